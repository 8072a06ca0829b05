//! The losses: hand-worked cases, gradients against finite differences, and the float32 range.
use crate::common::*;
use tripletkit_core::{
    ContrastiveOptions, Device, LadderOptions, LossOptions, MarginLossOptions, MatRef, Metric,
    MetricOptions, MineOptions, Mining, Ops, RankingOptions, Reduction, Similarity, Strategy,
    SupConOptions,
};

/// What a worked case reads off its op's result: the loss, one gradient, and one count.
struct Got {
    loss: f64,
    grad: Vec<f32>,
    count: usize,
}

/// A loss worked out by hand: the call, and the loss (within `tol`, relative past 1), the
/// gradient (each entry within 1e-6 relative, where given) and the count it must give.
struct Worked {
    what: &'static str,
    run: fn(&dyn Device) -> Got,
    loss: f64,
    tol: f64,
    grad: Option<&'static [f32]>,
    count: Option<usize>,
}

fn matrix(x: &'static [f32], rows: usize) -> MatRef<'static> {
    MatRef::new(x, rows, x.len() / rows).expect("a matrix")
}

/// Batch-hard on the line (`common`), margin 1.5: the count is the active triplets.
fn batch_hard_line(dev: &dyn Device, reduction: Reduction) -> Got {
    let o = LossOptions {
        margin: 1.5,
        reduction,
        ..LossOptions::default()
    };
    let batch_hard = Mining::Strategy(Strategy::BatchHard);
    let r = dev.triplet_loss(line(), &LABELS, None, batch_hard, &o, PLAIN);
    let r = r.expect("batch-hard loss");
    assert_eq!(r.triplets, 4, "{}: batch-hard triplets", dev.name());
    Got {
        loss: r.loss,
        grad: r.grad,
        count: r.active,
    }
}

/// Two triplet rows: a = (0, 0), (1, 0); p = (3, 4), (1, 0); n = (0, 1), (4, 0).
fn margin_rows(dev: &dyn Device, reduction: Reduction) -> tripletkit_core::MarginLossResult {
    let o = MarginLossOptions {
        reduction,
        ..MarginLossOptions::default()
    };
    let (a, p, n) = (
        matrix(&[0.0, 0.0, 1.0, 0.0], 2),
        matrix(&[3.0, 4.0, 1.0, 0.0], 2),
        matrix(&[0.0, 1.0, 4.0, 0.0], 2),
    );
    dev.triplet_margin_loss(a, p, n, &o, PLAIN)
        .expect("margin loss")
}

/// Cross-batch: anchors x = [0, 10] (labels 0, 1) against the reference r = [1, 3, 9, 12]
/// (labels 0, 1, 1, 0) of `miners`, margin 0.5.
fn cross_batch(dev: &dyn Device, mining: Mining) -> Got {
    let reference = Some((matrix(&[1.0, 3.0, 9.0, 12.0], 4), &[0, 1, 1, 0][..]));
    let o = LossOptions {
        margin: 0.5,
        ..LossOptions::default()
    };
    let r = dev.triplet_loss(
        matrix(&[0.0, 10.0], 2),
        &[0, 1],
        reference,
        mining,
        &o,
        PLAIN,
    );
    let r = r.expect("cross-batch loss");
    Got {
        loss: r.loss,
        grad: r.grad,
        count: r.active,
    }
}

fn ranking_dot(dev: &dyn Device, a: &'static [f32], p: &'static [f32], scale: f64) -> Got {
    let o = RankingOptions {
        scale,
        similarity: Similarity::Dot,
        symmetric: false,
    };
    let r = dev.multiple_negatives_ranking_loss(matrix(a, 2), matrix(p, 2), None, &o, PLAIN);
    let r = r.expect("ranking");
    Got {
        loss: r.loss,
        grad: r.grad_anchors,
        count: 0,
    }
}

fn contrastive_sq(dev: &dyn Device, x: &'static [f32]) -> Got {
    let o = ContrastiveOptions {
        distance: MetricOptions {
            metric: Metric::SqEuclidean,
            normalize: false,
        },
        ..ContrastiveOptions::default()
    };
    let r = dev
        .contrastive_loss(matrix(x, 2), &[0, 0], &o, PLAIN)
        .expect("contrastive");
    Got {
        loss: r.loss,
        grad: r.grad,
        count: r.active,
    }
}

/// The losses' small cases, worked out by hand, one a row.
#[rustfmt::skip] // one case a row
const WORKED: &[Worked] = &[
    // Batch-hard, margin 1.5: (0,1,2) 1−3+1.5 → 0; (1,0,2) 1−2+1.5 = 0.5; (2,3,1) 3−2+1.5 = 2.5;
    // (3,2,1) 3−5+1.5 → 0. Sum 3 over 4 triplets, 2 active. (1,0,2) moves x1 by +1 (via
    // d(1,0)) and +1 (via −d(1,2)), x0 by −1, x2 by −1; (2,3,1) x2 by −2, x3 and x1 by +1; / 4.
    Worked { what: "batch-hard, mean", run: |d| batch_hard_line(d, Reduction::Mean), loss: 0.75, tol: 1e-9,
        grad: Some(&[-0.25, 0.75, -0.75, 0.25]), count: Some(2) },
    Worked { what: "batch-hard, sum", run: |d| batch_hard_line(d, Reduction::Sum), loss: 3.0, tol: 1e-9,
        grad: Some(&[-1.0, 3.0, -3.0, 1.0]), count: Some(2) },
    Worked { what: "batch-hard, mean over the active", run: |d| batch_hard_line(d, Reduction::MeanActive), loss: 1.5, tol: 1e-9,
        grad: Some(&[-0.5, 1.5, -1.5, 0.5]), count: Some(2) },
    // Margin loss, row 0: 5 − 1 + 0.2 = 4.2; row 1: 0 − 3 + 0.2 → 0. ∂/∂a0 of d(a,p) − d(a,n) =
    // (a−p)/5 − (a−n)/1 = (−0.6, −0.8) − (0, −1) = (−0.6, 0.2), halved by the mean.
    Worked { what: "margin loss, mean (∂anchor)", run: |d| {
        let r = margin_rows(d, Reduction::Mean);
        Got { loss: r.loss, grad: r.grad_anchor, count: r.losses.iter().filter(|&&l| l > 0.0).count() }
    }, loss: 2.1, tol: 1e-6, grad: Some(&[-0.3, 0.1, 0.0, 0.0]), count: Some(1) },
    Worked { what: "margin loss, none (∂positive)", run: |d| {
        let r = margin_rows(d, Reduction::None);
        Got { loss: r.loss, grad: r.grad_positive, count: 0 }
    }, loss: 4.2, tol: 1e-6, grad: Some(&[0.6, 0.8, 0.0, 0.0]), count: None },
    // Cross-batch batch-hard: (0,3,1) 12 − 3 + 0.5 = 9.5; (1,1,3) 7 − 2 + 0.5 = 5.5; mean 7.5.
    // ∂/∂x0 = −1 + 1 = 0; ∂/∂x1 = 1 + 1 = 2, halved; the reference gets no gradient.
    Worked { what: "cross-batch batch-hard", run: |d| cross_batch(d, Mining::Strategy(Strategy::BatchHard)),
        loss: 7.5, tol: 1e-9, grad: Some(&[0.0, 1.0]), count: Some(2) },
    // A given triplet that indexes the reference, where a = p names two rows: 1 − 3 + 0.5 → 0.
    Worked { what: "a given cross-batch triplet", run: |d| cross_batch(d, Mining::Triplets { anchor: &[0], positive: &[0], negative: &[1] }),
        loss: 0.0, tol: 1e-9, grad: Some(&[0.0, 0.0]), count: Some(0) },
    // supCon, x0 = x1 = (1, 0), x2 = (0, 1), labels 0, 0, 1, τ = 1: cosines c01 = 1, c02 = c12
    // = 0. Anchors 0 and 1 lose −(1 − log(e + 1)) = log(1 + 1/e); row 2 has no positive.
    Worked { what: "supCon, τ = 1", run: |d| {
        let o = SupConOptions { temperature: 1.0 };
        let r = d.sup_con_loss(matrix(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], 3), &[0, 0, 1], &o, PLAIN).expect("supCon");
        Got { loss: r.loss, grad: r.grad, count: r.anchors }
    }, loss: 0.313_261_687_518_222_8, tol: 1e-6, grad: None, count: Some(2) },
    // Past float32's range, read in float64 (docs/SEMANTICS.md). Ranking, dot: s = scale · a·p
    // = 4e38, −2e38 / 2e38, −1e38 times 1e-38: rows (4, −2) and (2, −1), the positives on the
    // diagonal: (log(1 + e⁻⁶) + 3 + log(1 + e⁻³)) / 2.
    Worked { what: "ranking, products past float32's largest", run: |d| ranking_dot(d, &[2e19, 1e19], &[2e19, -1e19], 1e-38),
        loss: 1.525_531_518_355_736_3, tol: 1e-6, grad: None, count: None },
    // The same similarities from products below float32's smallest (4e-46 …) times 1e46.
    Worked { what: "ranking, products below float32's smallest", run: |d| ranking_dot(d, &[2e-23, 1e-23], &[2e-23, -1e-23], 1e46),
        loss: 1.525_531_518_355_736_3, tol: 1e-6, grad: None, count: None },
    // Ladder, dot: s = 4e38 above the rung, 2e38 below: 3e38 − 4e38 + 2e38 = 1e38.
    Worked { what: "ladder, similarities past float32's largest", run: |d| {
        let o = LadderOptions { thresholds: vec![0.5], margins: vec![3e38], weights: vec![], hardest: true, similarity: Similarity::Dot };
        let r = d.ladder_loss(matrix(&[2e19], 1), matrix(&[2e19, 1e19], 2), matrix(&[1.0, 0.0], 1), &o, PLAIN).expect("ladder");
        Got { loss: r.loss, grad: r.grad_queries, count: 0 }
    }, loss: 1e38, tol: 1e-6, grad: None, count: None },
    // Contrastive, sqeuclidean: a positive pair 4e38 apart (past float32's largest) loses 4e38;
    // one 1e-46 apart (below float32's smallest) is active, its gradient ±2e-23.
    Worked { what: "contrastive, a distance past float32's largest", run: |d| contrastive_sq(d, &[1e19, -1e19]),
        loss: 4e38, tol: 1e-6, grad: None, count: Some(2) },
    Worked { what: "contrastive, a distance below float32's smallest", run: |d| contrastive_sq(d, &[1e-23, 0.0]),
        loss: 1e-46, tol: 1e-6, grad: Some(&[2e-23, -2e-23]), count: Some(2) },
];

/// The table of worked losses.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
    for w in WORKED {
        let got = (w.run)(dev);
        let what = format!("{name}: {}", w.what);
        assert!(
            (got.loss - w.loss).abs() <= w.tol * w.loss.abs().max(1.0),
            "{what}: loss {} vs {}",
            got.loss,
            w.loss
        );
        if let Some(want) = w.grad {
            assert_eq!(got.grad.len(), want.len(), "{what}: gradient length");
            for (g, v) in got.grad.iter().zip(want) {
                let ok = g == v || (g - v).abs() <= 1e-6 * v.abs();
                assert!(ok, "{what}: gradient {:?} vs {want:?}", got.grad);
            }
        }
        if let Some(n) = w.count {
            assert_eq!(got.count, n, "{what}: count");
        }
    }
}

/// `triplet_loss` gradients against central finite differences of the loss, for every metric,
/// `normalize`, `swap`, `softMargin` and reduction.
pub fn gradients(dev: &dyn Device) {
    let metrics = [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Dot,
    ];
    let flags = [
        (false, false, false),
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ];
    for metric in metrics {
        for (normalize, swap, soft) in flags {
            loss_gradient(dev, metric, normalize, swap, soft, Reduction::Mean);
        }
        loss_gradient(dev, metric, false, false, false, Reduction::Sum);
        loss_gradient(dev, metric, false, false, false, Reduction::MeanActive);
    }
}

/// Central finite differences of `loss` at `x`, against `grad`, entry by entry.
fn finite_differences(what: &str, x: &[f32], grad: &[f32], loss: impl Fn(&[f32]) -> f64) {
    let h = 1e-3f32;
    for i in 0..x.len() {
        let (mut up, mut down) = (x.to_vec(), x.to_vec());
        up[i] += h;
        down[i] -= h;
        let fd = (loss(&up) - loss(&down)) / (up[i] as f64 - down[i] as f64);
        let g = grad[i] as f64;
        assert!(
            (fd - g).abs() <= 2e-2 * (1.0 + g.abs()),
            "{what} [{i}]: fd {fd} vs {g}"
        );
    }
}

/// `contrastive_loss`, `multiple_negatives_ranking_loss` and `ladder_loss` gradients against central finite
/// differences, for every metric (similarity), `normalize`, reduction, negatives and `symmetric`.
pub fn pair_loss_gradients(dev: &dyn Device) {
    let (rows, cols) = (7, 3);
    let mut seed = 23u64;
    let x: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let labels = [0, 0, 0, 1, 1, 2, 2];
    fn mat(x: &[f32], rows: usize) -> MatRef<'_> {
        MatRef::new(x, rows, 3).expect("rows × 3")
    }
    for metric in [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Dot,
    ] {
        for (normalize, reduction) in [
            (false, Reduction::Mean),
            (true, Reduction::Mean),
            (false, Reduction::Sum),
            (false, Reduction::MeanActive),
        ] {
            let o = ContrastiveOptions {
                pos_margin: 0.1,
                neg_margin: 1.2,
                reduction,
                distance: MetricOptions { metric, normalize },
            };
            let at = |x: &[f32]| {
                dev.contrastive_loss(mat(x, rows), &labels, &o, PLAIN)
                    .expect("contrastive")
            };
            let what = format!(
                "{}: contrastive {metric:?} normalize={normalize} {reduction:?}",
                dev.name()
            );
            finite_differences(&what, &x, &at(&x).grad, |x| at(x).loss);
        }
    }
    let (m, k) = (4, 3);
    let a: Vec<f32> = (0..m * cols).map(|_| lcg(&mut seed)).collect();
    let p: Vec<f32> = (0..m * cols).map(|_| lcg(&mut seed)).collect();
    let n: Vec<f32> = (0..k * cols).map(|_| lcg(&mut seed)).collect();
    for similarity in [Similarity::Cosine, Similarity::Dot] {
        for (symmetric, with_negatives) in [(false, false), (false, true), (true, true)] {
            let o = RankingOptions {
                scale: 3.0,
                similarity,
                symmetric,
            };
            let run = |a: &[f32], p: &[f32], n: &[f32]| {
                let neg = with_negatives.then(|| mat(n, k));
                dev.multiple_negatives_ranking_loss(mat(a, m), mat(p, m), neg, &o, PLAIN)
                    .expect("ranking")
            };
            let base = run(&a, &p, &n);
            let what = format!(
                "{}: ranking {similarity:?} symmetric={symmetric} negatives={with_negatives}",
                dev.name()
            );
            finite_differences(&format!("{what} ∂anchors"), &a, &base.grad_anchors, |x| {
                run(x, &p, &n).loss
            });
            finite_differences(
                &format!("{what} ∂positives"),
                &p,
                &base.grad_positives,
                |x| run(&a, x, &n).loss,
            );
            match &base.grad_negatives {
                Some(gn) => finite_differences(&format!("{what} ∂negatives"), &n, gn, |x| {
                    run(&a, &p, x).loss
                }),
                None => assert!(!with_negatives, "{what}: no negatives gradient"),
            }
        }
    }
    // Ladder: 3 queries × 5 candidates with graded relevance, every rung populated.
    let (nq, nc) = (3, 5);
    let q: Vec<f32> = (0..nq * cols).map(|_| lcg(&mut seed)).collect();
    let c: Vec<f32> = (0..nc * cols).map(|_| lcg(&mut seed)).collect();
    let rel: Vec<f32> = (0..nq * nc).map(|i| ((i * 7) % 5) as f32 / 4.0).collect();
    for similarity in [Similarity::Cosine, Similarity::Dot] {
        for hardest in [true, false] {
            let o = LadderOptions {
                thresholds: vec![0.8, 0.4],
                margins: vec![0.9, 0.6],
                weights: vec![1.0, 0.5],
                hardest,
                similarity,
            };
            let run = |q: &[f32], c: &[f32]| {
                let (qm, cm, rm) = (
                    mat(q, nq),
                    mat(c, nc),
                    MatRef::new(&rel, nq, nc).expect("relevance"),
                );
                dev.ladder_loss(qm, cm, rm, &o, PLAIN).expect("ladder")
            };
            let base = run(&q, &c);
            let what = format!("{}: ladder {similarity:?} hardest={hardest}", dev.name());
            assert!(
                base.loss > 0.0,
                "{what}: some rung must be active for the check to mean anything"
            );
            finite_differences(&format!("{what} ∂queries"), &q, &base.grad_queries, |x| {
                run(x, &c).loss
            });
            finite_differences(
                &format!("{what} ∂candidates"),
                &c,
                &base.grad_candidates,
                |x| run(&q, x).loss,
            );
        }
    }
}

fn loss_gradient(
    dev: &dyn Device,
    metric: Metric,
    normalize: bool,
    swap: bool,
    soft_margin: bool,
    reduction: Reduction,
) {
    let (rows, cols) = (9, 4);
    let mut seed =
        3 + metric as u64 * 7 + normalize as u64 * 13 + swap as u64 * 17 + soft_margin as u64 * 19;
    let x: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    let distance = MetricOptions { metric, normalize };
    let o = LossOptions {
        margin: 0.3,
        soft_margin,
        swap,
        reduction,
        distance,
        max_triplets: 10_000,
        sample: None,
    };
    // Fixed triplets: mining is piecewise constant, so finite differences see only the loss.
    let mine_o = MineOptions {
        strategy: Strategy::All,
        margin: 0.3,
        distance,
        max_triplets: 10_000,
        sample: None,
    };
    fn mat(x: &[f32]) -> MatRef<'_> {
        MatRef::new(x, 9, 4).expect("9 × 4")
    }
    let t = dev
        .mine_triplets(mat(&x), &labels, None, &mine_o, PLAIN)
        .expect("mining");
    let mining = Mining::Triplets {
        anchor: &t.anchor,
        positive: &t.positive,
        negative: &t.negative,
    };
    let at = |x: &[f32]| {
        dev.triplet_loss(mat(x), &labels, None, mining, &o, PLAIN)
            .expect("loss")
    };
    let base = at(&x);
    let h = 1e-3f32;
    for i in 0..rows * cols {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (at(&up).loss - at(&down).loss) / (up[i] as f64 - down[i] as f64);
        let g = base.grad[i] as f64;
        assert!(
            (fd - g).abs() <= 2e-2 * (1.0 + g.abs()),
            "{}: {metric:?} normalize={normalize} swap={swap} soft={soft_margin} {reduction:?} [{i}]: fd {fd} vs {g}",
            dev.name()
        );
    }
}

/// `sup_con_loss`'s gradient against finite differences (its worked case is in the table).
pub fn sup_con(dev: &dyn Device) {
    let name = dev.name();
    // The gradient against central differences of the loss, on seeded rows.
    let mut seed = 11u64;
    let (rows, cols) = (7, 3);
    let x: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let labels = [0, 0, 1, 1, 1, 2, 0];
    let o = SupConOptions { temperature: 0.5 };
    let loss = |x: &[f32]| {
        dev.sup_con_loss(MatRef::new(x, rows, cols).expect("x"), &labels, &o, PLAIN)
            .expect("supCon")
            .loss
    };
    let r = dev
        .sup_con_loss(MatRef::new(&x, rows, cols).expect("x"), &labels, &o, PLAIN)
        .expect("supCon");
    finite_differences(&format!("{name}: supCon"), &x, &r.grad, loss);
}

/// Absurd scales saturate, never giving NaN. (The products past float32's range are worked
/// cases of `hand_worked`.)
pub fn range(dev: &dyn Device) {
    let name = dev.name();
    // Absurd scales: the loss is a number or +∞, the gradients finite (float32 saturation).
    let mut seed = 5u64;
    let x: Vec<f32> = (0..8 * 3).map(|_| lcg(&mut seed) * 10.0).collect();
    let (a, p) = (
        MatRef::new(&x[..12], 4, 3).expect("a"),
        MatRef::new(&x[12..], 4, 3).expect("p"),
    );
    for scale in [1e300, 1e308, -1e308] {
        for similarity in [Similarity::Dot, Similarity::Cosine] {
            for symmetric in [false, true] {
                let o = RankingOptions {
                    scale,
                    similarity,
                    symmetric,
                };
                let r = dev
                    .multiple_negatives_ranking_loss(a, p, Some(a), &o, PLAIN)
                    .expect("ranking at an absurd scale");
                let what = format!("{name}: scale {scale} {similarity:?} symmetric {symmetric}");
                assert!(!r.loss.is_nan() && r.loss >= 0.0, "{what}: loss {}", r.loss);
                for g in [&r.grad_anchors, &r.grad_positives] {
                    assert!(g.iter().all(|v| v.is_finite()), "{what}: {g:?}");
                }
            }
        }
    }
}
