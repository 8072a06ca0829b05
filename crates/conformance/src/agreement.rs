//! One device against another on seeded inputs of awkward sizes.
use crate::common::*;
use tripletkit_core::{
    Device, KnnOptions, LossOptions, MarginLossOptions, MatRef, Metric, MetricOptions, MineOptions,
    Mining, Ops, RetrievalOptions, Strategy,
};

/// Relative and absolute tolerance of a value comparison: |a − b| ≤ abs + rel·|b|.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub rel: f64,
    pub abs: f64,
}

fn close(what: &str, got: &[f32], want: &[f32], tol: Tolerance) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (f64::from(g), f64::from(w));
        assert!(
            (g - w).abs() <= tol.abs + tol.rel * w.abs(),
            "{what}[{i}]: {g} vs {w} ({tol:?})"
        );
    }
}

/// Small integer coordinates: every product and sum below is exact in f32, so distances tie
/// exactly where they tie in truth, and the tie rule alone decides every order.
fn grid(rows: usize, cols: usize, seed: &mut u64) -> Vec<f32> {
    (0..rows * cols)
        .map(|_| (lcg(seed) * 4.0).round())
        .collect()
}

/// `dev` against `reference` (the CPU, for a GPU device) on seeded inputs of awkward sizes
/// (1 row, rows past a tile edge, duplicated rows, exact ties): every index result equal for
/// the euclidean family and dot, where ties are exact; every value within `tol`.
pub fn agrees_with(dev: &dyn Device, reference: &dyn Device, tol: Tolerance) {
    let name = format!("{} vs {}", dev.name(), reference.name());
    let mut seed = 17u64;
    for (rows, cols) in [(1, 1), (2, 3), (17, 3), (70, 9), (129, 5)] {
        let x = grid(rows, cols, &mut seed);
        let y = grid(rows + 3, cols, &mut seed);
        let xm = MatRef::new(&x, rows, cols).expect("x");
        let ym = MatRef::new(&y, rows + 3, cols).expect("y");
        let (p, n) = (grid(rows, cols, &mut seed), grid(rows, cols, &mut seed));
        let pm = MatRef::new(&p, rows, cols).expect("positives");
        let nm = MatRef::new(&n, rows, cols).expect("negatives");
        let classes = (rows as i32 / 8).max(4);
        let labels: Vec<i32> = (0..rows as i32).map(|i| (i * 7) % classes).collect();
        let at = |what: &str| format!("{name} {rows}×{cols} {what}");
        for metric in [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Cosine,
            Metric::Dot,
        ] {
            for normalize in [false, true] {
                let o = MetricOptions { metric, normalize };
                let exact = !normalize && metric != Metric::Cosine;
                let run = |d: &dyn Device, b: Option<MatRef>| {
                    d.pairwise_distances(xm, b, &o, PLAIN).expect("pairwise")
                };
                for b in [None, Some(ym)] {
                    close(
                        &at(&format!("pairwise {o:?}")),
                        &run(dev, b),
                        &run(reference, b),
                        tol,
                    );
                }
                let k = rows.min(4);
                let ko = KnnOptions {
                    k,
                    exclude_self: false,
                    query_offset: 0,
                };
                let (g, w) = (
                    dev.knn_once(ym, xm, &o, &ko, PLAIN).expect("knn"),
                    reference.knn_once(ym, xm, &o, &ko, PLAIN).expect("knn"),
                );
                close(
                    &at(&format!("knn distances {o:?}")),
                    &g.distances,
                    &w.distances,
                    tol,
                );
                if exact {
                    assert_eq!(
                        g.indices,
                        w.indices,
                        "{}",
                        at(&format!("knn indices {o:?}"))
                    );
                }
                let strategies = [
                    Strategy::All,
                    Strategy::Violating,
                    Strategy::Hard,
                    Strategy::Semihard,
                    Strategy::Easy,
                    Strategy::BatchHard,
                    Strategy::BatchSemihard,
                ];
                for strategy in strategies {
                    let mo = MineOptions {
                        strategy,
                        margin: 1.0,
                        distance: o,
                        max_triplets: 1 << 20,
                        sample: None,
                    };
                    let mine = |d: &dyn Device| {
                        d.mine_triplets(xm, &labels, None, &mo, PLAIN)
                            .expect("mining")
                    };
                    let (g, w) = (mine(dev), mine(reference));
                    if exact {
                        assert_eq!(g, w, "{}", at(&format!("mining {strategy:?} {o:?}")));
                    }
                    let lo = LossOptions {
                        margin: 1.0,
                        distance: o,
                        ..LossOptions::default()
                    };
                    let given = Mining::Triplets {
                        anchor: &w.anchor,
                        positive: &w.positive,
                        negative: &w.negative,
                    };
                    let loss = |d: &dyn Device| {
                        d.triplet_loss(xm, &labels, None, given, &lo, PLAIN)
                            .expect("loss")
                    };
                    let (gl, wl) = (loss(dev), loss(reference));
                    close(
                        &at(&format!("loss {strategy:?} {o:?}")),
                        &[gl.loss as f32],
                        &[wl.loss as f32],
                        tol,
                    );
                    close(
                        &at(&format!("loss gradient {strategy:?} {o:?}")),
                        &gl.grad,
                        &wl.grad,
                        tol,
                    );
                }
                let mlo = MarginLossOptions {
                    swap: true,
                    distance: o,
                    ..MarginLossOptions::default()
                };
                // Three different sides, so that every gradient term is live.
                let ml = |d: &dyn Device| {
                    d.triplet_margin_loss(xm, pm, nm, &mlo, PLAIN)
                        .expect("margin loss")
                };
                let (g, w) = (ml(dev), ml(reference));
                close(
                    &at(&format!("margin losses {o:?}")),
                    &g.losses,
                    &w.losses,
                    tol,
                );
                for (side, gs, ws) in [
                    ("anchor", &g.grad_anchor, &w.grad_anchor),
                    ("positive", &g.grad_positive, &w.grad_positive),
                    ("negative", &g.grad_negative, &w.grad_negative),
                ] {
                    close(&at(&format!("margin gradient {side} {o:?}")), gs, ws, tol);
                }
                if exact {
                    let ro = RetrievalOptions { k: 3, distance: o };
                    let r = |d: &dyn Device| {
                        d.retrieval_metrics(xm, &labels, None, &ro, PLAIN)
                            .expect("retrieval")
                    };
                    assert_eq!(r(dev), r(reference), "{}", at(&format!("retrieval {o:?}")));
                }
            }
        }
    }
}
