//! Checks that any [`Device`] follows the rules of this crate: small cases worked out by hand,
//! gradients against finite differences, every argument rule, and cancellation. Each check
//! panics on its first failure, so a device crate runs them from its own `#[test]`s:
//! `conformance::hand_worked(&MyDevice::new()?)`. The CPU device runs them in this crate's
//! tests.
//!
//! The line used throughout: x = [0, 1, 3, 6], labels [0, 0, 1, 1]. Euclidean distances
//! d(0,1)=1 d(0,2)=3 d(0,3)=6 d(1,2)=2 d(1,3)=5 d(2,3)=3. Valid triplets (a,p,n) with
//! m = d(a,n) − d(a,p): (0,1,2) 2, (0,1,3) 5, (1,0,2) 1, (1,0,3) 4, (2,3,0) 0, (2,3,1) −1,
//! (3,2,0) 3, (3,2,1) 2.

use crate::{
    Call, ContrastiveOptions, Device, Error, KnnOptions, LadderOptions, LossOptions,
    MarginLossOptions, MatRef, Metric, MetricOptions, MineOptions, Mining, OasisOptions,
    RankingOptions, Reduction, RetrievalOptions, Similarity, Stop, Strategy, Triplets,
    VerificationOptions,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const X: [f32; 4] = [0.0, 1.0, 3.0, 6.0];
const LABELS: [i32; 4] = [0, 0, 1, 1];
const PLAIN: &Call = &Call::PLAIN;

fn line() -> MatRef<'static> {
    MatRef::new(&X, 4, 1).expect("a 4 × 1 matrix")
}

fn euclidean() -> MetricOptions {
    MetricOptions::default()
}

fn mine(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    strategy: Strategy,
    margin: f64,
    max: usize,
) -> Result<Triplets, Error> {
    let o = MineOptions {
        strategy,
        margin,
        distance: euclidean(),
        max_triplets: max,
    };
    dev.mine_triplets(x, labels, None, &o, PLAIN)
}

fn tuples(t: &Triplets) -> Vec<(i32, i32, i32)> {
    (0..t.len())
        .map(|i| (t.anchor[i], t.positive[i], t.negative[i]))
        .collect()
}

fn on_line(dev: &dyn Device, strategy: Strategy, margin: f64) -> Vec<(i32, i32, i32)> {
    tuples(&mine(dev, line(), &LABELS, strategy, margin, 1000).expect("mining on the line"))
}

/// Every small case of this crate, worked out by hand.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
    // Set strategies, ascending (a, p, n).
    let all = vec![
        (0, 1, 2),
        (0, 1, 3),
        (1, 0, 2),
        (1, 0, 3),
        (2, 3, 0),
        (2, 3, 1),
        (3, 2, 0),
        (3, 2, 1),
    ];
    assert_eq!(on_line(dev, Strategy::All, 1.5), all, "{name}: all");
    assert_eq!(
        on_line(dev, Strategy::Violating, 1.5),
        vec![(1, 0, 2), (2, 3, 0), (2, 3, 1)],
        "{name}: violating"
    );
    assert_eq!(
        on_line(dev, Strategy::Hard, 1.5),
        vec![(2, 3, 0), (2, 3, 1)],
        "{name}: hard"
    );
    assert_eq!(
        on_line(dev, Strategy::Semihard, 1.5),
        vec![(1, 0, 2)],
        "{name}: semihard"
    );
    assert_eq!(
        on_line(dev, Strategy::Easy, 1.5),
        vec![(0, 1, 2), (0, 1, 3), (1, 0, 3), (3, 2, 0), (3, 2, 1)],
        "{name}: easy"
    );
    // Batch strategies. (2,3): no negative is farther than d(2,3) = 3, so batch-semihard takes
    // the farthest (0, at 3).
    assert_eq!(
        on_line(dev, Strategy::BatchHard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)],
        "{name}: batch-hard"
    );
    assert_eq!(
        on_line(dev, Strategy::BatchSemihard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 0), (3, 2, 1)],
        "{name}: batch-semihard"
    );

    // Ties go to the lower index: x = [0, 1, 1, −1, −1], labels [0, 0, 0, 1, 1]: anchor 0 has
    // positives 1 and 2 at 1 and negatives 3 and 4 at 1, so batch-hard takes (0, 1, 3).
    let x = [0.0f32, 1.0, 1.0, -1.0, -1.0];
    let t = mine(
        dev,
        MatRef::new(&x, 5, 1).expect("5 × 1"),
        &[0, 0, 0, 1, 1],
        Strategy::BatchHard,
        0.2,
        100,
    )
    .expect("ties");
    assert_eq!(tuples(&t)[0], (0, 1, 3), "{name}: ties");

    // Too many triplets is an error, not an allocation: 4 batch triplets here, 8 in `all`.
    for strategy in [Strategy::BatchHard, Strategy::BatchSemihard] {
        let run = |max| mine(dev, line(), &LABELS, strategy, 0.2, max);
        assert_eq!(
            run(3).unwrap_err(),
            Error::TooManyTriplets { limit: 3 },
            "{name}: {strategy:?}"
        );
        assert_eq!(run(4).expect("4 fit").len(), 4, "{name}: {strategy:?}");
    }
    assert_eq!(
        mine(dev, line(), &LABELS, Strategy::All, 0.2, 7).unwrap_err(),
        Error::TooManyTriplets { limit: 7 }
    );

    // Batch-hard loss, margin 1.5: (0,1,2) 1−3+1.5 → 0; (1,0,2) 1−2+1.5 = 0.5; (2,3,1)
    // 3−2+1.5 = 2.5; (3,2,1) 3−5+1.5 → 0. Sum 3 over 4 triplets, 2 active.
    let loss = |reduction| {
        let o = LossOptions {
            margin: 1.5,
            reduction,
            ..LossOptions::default()
        };
        dev.triplet_loss(
            line(),
            &LABELS,
            None,
            Mining::Strategy(Strategy::BatchHard),
            &o,
            PLAIN,
        )
        .expect("loss")
    };
    let mean = loss(Reduction::Mean);
    assert_eq!((mean.triplets, mean.active), (4, 2), "{name}: loss counts");
    assert!(
        (mean.loss - 0.75).abs() < 1e-9,
        "{name}: mean {}",
        mean.loss
    );
    assert!(
        (loss(Reduction::Sum).loss - 3.0).abs() < 1e-9,
        "{name}: sum"
    );
    assert!(
        (loss(Reduction::MeanActive).loss - 1.5).abs() < 1e-9,
        "{name}: mean-active"
    );
    // (1,0,2) moves x1 by +1 (via d(1,0)) and +1 (via −d(1,2)); x0 −1; x2 −1. (2,3,1) gives
    // x2 −1 −1, x3 +1, x1 +1. Times 1/4 for the mean.
    assert_eq!(
        mean.grad,
        vec![-0.25, 0.75, -0.75, 0.25],
        "{name}: loss gradient"
    );

    // Margin loss. Row 0: 5 − 1 + 0.2 = 4.2. Row 1: 0 − 3 + 0.2 → 0.
    let a = [0.0f32, 0.0, 1.0, 0.0];
    let p = [3.0f32, 4.0, 1.0, 0.0];
    let n = [0.0f32, 1.0, 4.0, 0.0];
    let margin_loss = |reduction| {
        let o = MarginLossOptions {
            reduction,
            ..MarginLossOptions::default()
        };
        let (a, p, n) = (
            MatRef::new(&a, 2, 2),
            MatRef::new(&p, 2, 2),
            MatRef::new(&n, 2, 2),
        );
        dev.triplet_margin_loss(a.expect("a"), p.expect("p"), n.expect("n"), &o, PLAIN)
            .expect("margin loss")
    };
    let r = margin_loss(Reduction::Mean);
    assert_eq!(r.losses, vec![4.2, 0.0], "{name}: margin losses");
    assert!((r.loss - 2.1).abs() < 1e-6, "{name}: margin mean");
    // ∂/∂a of d(a,p) − d(a,n) = (a−p)/5 − (a−n)/1 = (−0.6, −0.8) − (0, −1) = (−0.6, 0.2), halved.
    assert!(
        (r.grad_anchor[0] + 0.3).abs() < 1e-6 && (r.grad_anchor[1] - 0.1).abs() < 1e-6,
        "{name}: {:?}",
        r.grad_anchor
    );
    assert_eq!(&r.grad_anchor[2..], &[0.0, 0.0], "{name}");
    let none = margin_loss(Reduction::None);
    assert!((none.loss - 4.2).abs() < 1e-6, "{name}: margin none");
    assert!(
        (none.grad_positive[0] - 0.6).abs() < 1e-6 && (none.grad_positive[1] - 0.8).abs() < 1e-6,
        "{name}"
    );

    // Retrieval, self-search, k = 2. q0, q1, q3 find their one relevant item first; q2's
    // ranking is 1 (2), 0 (3), 3 (3): the tie at 3 goes to index 0, so its relevant item is
    // third, beyond the mrr window of max(R_max = 1, k = 2) = 2.
    let o = RetrievalOptions {
        k: 2,
        distance: euclidean(),
    };
    let r = dev
        .retrieval_metrics(line(), &LABELS, None, &o, PLAIN)
        .expect("retrieval");
    assert_eq!(r.queries, 4, "{name}");
    for v in [
        r.precision_at_1,
        r.r_precision,
        r.map_at_r,
        r.mrr,
        r.recall_at_k,
    ] {
        assert!((v - 0.75).abs() < 1e-12, "{name}: retrieval {r:?}");
    }
    assert!(
        (r.precision_at_k - 0.375).abs() < 1e-12,
        "{name}: precision@k"
    );

    // knn excludes self and pads nothing.
    let sq = MetricOptions {
        metric: Metric::SqEuclidean,
        normalize: false,
    };
    let o = KnnOptions {
        k: 3,
        exclude_self: true,
        query_offset: 0,
    };
    let r = dev.knn_once(line(), line(), &sq, &o, PLAIN).expect("knn");
    assert_eq!(&r.indices[..3], &[1, 2, 3], "{name}: knn");
    assert_eq!(&r.distances[..3], &[1.0, 9.0, 36.0], "{name}: knn");

    // pairwise: 3-4-5, and a zero vector is at cosine distance 1 from everything.
    let x = [0.0f32, 0.0, 3.0, 4.0];
    let m2 = MatRef::new(&x, 2, 2).expect("2 × 2");
    let pw = |metric| {
        dev.pairwise_distances(
            m2,
            None,
            &MetricOptions {
                metric,
                normalize: false,
            },
            PLAIN,
        )
        .expect("pairwise")
    };
    assert_eq!(pw(Metric::Euclidean), vec![0.0, 5.0, 5.0, 0.0], "{name}");
    assert_eq!(
        pw(Metric::SqEuclidean),
        vec![0.0, 25.0, 25.0, 0.0],
        "{name}"
    );
    assert_eq!(pw(Metric::Cosine), vec![1.0, 1.0, 1.0, 0.0], "{name}");
    assert_eq!(pw(Metric::Dot), vec![0.0, 0.0, 0.0, -25.0], "{name}");
    // Cross-batch memory: anchors x = [0, 10] (labels 0, 1); the reference r = [1, 3, 9, 12]
    // (labels 0, 1, 1, 0) gives the positives and negatives. Anchor 0: positives r0 (d 1),
    // r3 (12), negatives r1 (3), r2 (9). Anchor 1: positives r1 (7), r2 (1), negatives r0 (9),
    // r3 (2).
    let xb = [0.0f32, 10.0];
    let rb = [1.0f32, 3.0, 9.0, 12.0];
    let (xm, rm) = (
        MatRef::new(&xb, 2, 1).expect("2 × 1"),
        MatRef::new(&rb, 4, 1).expect("4 × 1"),
    );
    let memory = Some((rm, &[0, 1, 1, 0][..]));
    let mine_x = |strategy| {
        let o = MineOptions {
            strategy,
            margin: 0.5,
            ..MineOptions::default()
        };
        tuples(
            &dev.mine_triplets(xm, &[0, 1], memory, &o, PLAIN)
                .expect("cross-batch mining"),
        )
    };
    assert_eq!(
        mine_x(Strategy::BatchHard),
        vec![(0, 3, 1), (1, 1, 3)],
        "{name}: cross-batch batch-hard"
    );
    assert_eq!(
        mine_x(Strategy::BatchSemihard),
        vec![(0, 0, 1), (0, 3, 2), (1, 1, 0), (1, 2, 3)],
        "{name}: cross-batch batch-semihard"
    );
    assert_eq!(mine_x(Strategy::All).len(), 8, "{name}: cross-batch all");
    // Loss, batch-hard, margin 0.5: (0,3,1) 12 − 3 + 0.5 = 9.5; (1,1,3) 7 − 2 + 0.5 = 5.5.
    // ∂/∂x0 = −1 + 1 = 0; ∂/∂x1 = 1 + 1 = 2; halved. No gradient for the reference.
    let lo = LossOptions {
        margin: 0.5,
        ..LossOptions::default()
    };
    let r = dev
        .triplet_loss(
            xm,
            &[0, 1],
            memory,
            Mining::Strategy(Strategy::BatchHard),
            &lo,
            PLAIN,
        )
        .expect("cross-batch loss");
    assert!(
        (r.loss - 7.5).abs() < 1e-9,
        "{name}: cross-batch loss {}",
        r.loss
    );
    assert_eq!(r.grad, vec![0.0, 1.0], "{name}: cross-batch gradient");
    // Given triplets index the reference, where a = p names two different rows.
    let given = Mining::Triplets {
        anchor: &[0],
        positive: &[0],
        negative: &[1],
    };
    let r = dev
        .triplet_loss(xm, &[0, 1], memory, given, &lo, PLAIN)
        .expect("given");
    assert!(
        (r.loss - (1.0 - 3.0 + 0.5f64).max(0.0)).abs() < 1e-9,
        "{name}: given cross-batch triplet"
    );
}

/// A seeded stream of values in [−1, 1): the inputs of the checks here and of the crate's tests.
pub(crate) fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
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
    };
    // Fixed triplets: mining is piecewise constant, so finite differences see only the loss.
    let mine_o = MineOptions {
        strategy: Strategy::All,
        margin: 0.3,
        distance,
        max_triplets: 10_000,
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

/// Asserts that `r` is `Err(Invalid)` with a message starting with `prefix`.
fn invalid<T: std::fmt::Debug>(dev: &dyn Device, r: Result<T, Error>, prefix: &str) {
    match r {
        Err(Error::Invalid(msg)) if msg.starts_with(prefix) => {}
        other => panic!(
            "{}: expected Invalid(\"{prefix}…\"), got {other:?}",
            dev.name()
        ),
    }
}

/// Every argument rule is an `Err(Invalid)` naming the argument, never a panic.
pub fn rules(dev: &dyn Device) {
    let m = line();
    let half = MatRef::new(&X[..2], 2, 1).expect("2 × 1");
    let wide = MatRef::new(&X, 2, 2).expect("2 × 2");
    invalid(dev, MatRef::new(&X, 3, 1), "matrix: expected 3 × 1 values");
    invalid(
        dev,
        MatRef::new(&[1.0, f32::NAN], 2, 1),
        "matrix: expected finite numbers",
    );
    invalid(
        dev,
        dev.pairwise_distances(m, Some(wide), &euclidean(), PLAIN),
        "b: expected 1 columns",
    );
    invalid(
        dev,
        mine(dev, m, &LABELS[..3], Strategy::All, 0.2, 100),
        "labels: expected 4 labels",
    );
    invalid(
        dev,
        mine(dev, m, &LABELS, Strategy::All, f64::NAN, 100),
        "margin: expected a finite number",
    );
    for (k, exclude_self) in [(0, false), (5, false), (4, true)] {
        let o = KnnOptions {
            k,
            exclude_self,
            query_offset: 0,
        };
        invalid(
            dev,
            dev.knn_once(m, m, &euclidean(), &o, PLAIN),
            "k: expected an integer from 1",
        );
    }
    let corpus = dev
        .prepare_corpus(X.to_vec(), 2, 2, &euclidean())
        .expect("2 × 2 corpus");
    invalid(
        dev,
        dev.knn(m, &*corpus, &KnnOptions::default(), PLAIN),
        "corpus: expected 1 columns (the columns of queries), received 2",
    );
    invalid(
        dev,
        dev.prepare_corpus(vec![1.0; 3], 2, 2, &euclidean())
            .map(|c| c.rows()),
        "corpus: expected 2 × 2 values",
    );
    let mo = MarginLossOptions::default();
    invalid(
        dev,
        dev.triplet_margin_loss(m, half, m, &mo, PLAIN),
        "positive: expected 4 × 1",
    );
    invalid(
        dev,
        dev.triplet_margin_loss(m, m, wide, &mo, PLAIN),
        "negative: expected 4 × 1",
    );
    let bad_reduction = MarginLossOptions {
        reduction: Reduction::MeanActive,
        ..mo
    };
    invalid(
        dev,
        dev.triplet_margin_loss(m, m, m, &bad_reduction, PLAIN),
        "reduction: expected one of",
    );
    let lo = LossOptions::default();
    let given = |a: &'static [i32], p: &'static [i32], n: &'static [i32]| Mining::Triplets {
        anchor: a,
        positive: p,
        negative: n,
    };
    let cases: [(Mining, &str); 5] = [
        (
            given(&[0], &[1], &[]),
            "triplets.negative: expected 1 indices",
        ),
        (
            given(&[0], &[1], &[4]),
            "triplets.negative[0]: expected an index from 0 to 4 − 1",
        ),
        (
            given(&[0], &[0], &[2]),
            "triplets: triplet 0 (anchor 0, positive 0, negative 2): expected anchor ≠ positive",
        ),
        (
            given(&[0], &[2], &[3]),
            "triplets: triplet 0 (anchor 0, positive 2, negative 3): expected the positive",
        ),
        (
            given(&[0], &[1], &[1]),
            "triplets: triplet 0 (anchor 0, positive 1, negative 1): expected the negative",
        ),
    ];
    for (mining, prefix) in cases {
        invalid(
            dev,
            dev.triplet_loss(m, &LABELS, None, mining, &lo, PLAIN),
            prefix,
        );
    }
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS[..1],
            None,
            Mining::Strategy(Strategy::BatchHard),
            &lo,
            PLAIN,
        ),
        "labels: expected 4 labels",
    );
    let none = LossOptions {
        reduction: Reduction::None,
        ..lo
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            None,
            Mining::Strategy(Strategy::BatchHard),
            &none,
            PLAIN,
        ),
        "reduction: expected one of",
    );
    invalid(
        dev,
        dev.contrastive_loss(m, &LABELS[..3], &ContrastiveOptions::default(), PLAIN),
        "labels: expected 4 labels",
    );
    let nan_margin = ContrastiveOptions {
        neg_margin: f64::NAN,
        ..ContrastiveOptions::default()
    };
    invalid(
        dev,
        dev.contrastive_loss(m, &LABELS, &nan_margin, PLAIN),
        "negMargin: expected a finite number",
    );
    let rko = RankingOptions::default();
    invalid(
        dev,
        dev.multiple_negatives_ranking_loss(m, half, None, &rko, PLAIN),
        "positives: expected 4 × 1",
    );
    invalid(
        dev,
        dev.multiple_negatives_ranking_loss(m, m, Some(wide), &rko, PLAIN),
        "negatives: expected 1 columns",
    );
    let vo = VerificationOptions::default();
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 0], &vo, PLAIN),
        "same: expected 4 flags",
    );
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 1, 1, 1], &vo, PLAIN),
        "same: expected at least one same",
    );
    invalid(
        dev,
        dev.verification_metrics(m, half, &[1, 0, 1, 0], &vo, PLAIN),
        "b: expected 4 × 1",
    );
    let far = VerificationOptions { far: 1.5, ..vo };
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 0, 1, 0], &far, PLAIN),
        "far: expected a rate from 0 to 1",
    );
    let bank = MatRef::new(&X[..2], 2, 1).expect("2 × 1");
    invalid(
        dev,
        dev.mine_triplets(
            m,
            &LABELS,
            Some((bank, &LABELS[..1])),
            &MineOptions::default(),
            PLAIN,
        ),
        "referenceLabels: expected 2 labels",
    );
    let long_labels = Mining::Triplets {
        anchor: &[0],
        positive: &[3],
        negative: &[1],
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            Some((bank, &LABELS[..])),
            long_labels,
            &LossOptions::default(),
            PLAIN,
        ),
        "referenceLabels: expected 2 labels",
    );
    let memory_triplet = Mining::Triplets {
        anchor: &[0],
        positive: &[2],
        negative: &[1],
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            Some((bank, &LABELS[..2])),
            memory_triplet,
            &LossOptions::default(),
            PLAIN,
        ),
        "triplets.positive[0]: expected an index from 0 to 2 − 1",
    );
    let oo = OasisOptions {
        c: 0.1,
        steps: 1,
        state: 0,
    };
    invalid(
        dev,
        dev.oasis_steps(m, &LABELS, &[1.0, 0.0], &oo, PLAIN),
        "weights: expected 1 × 1 values, received 2",
    );
    let no_c = OasisOptions { c: 0.0, ..oo };
    invalid(
        dev,
        dev.oasis_steps(m, &LABELS, &[1.0], &no_c, PLAIN),
        "c: expected a positive number",
    );
    let ro = RetrievalOptions::default();
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS[..2], None, &ro, PLAIN),
        "queryLabels: expected 4 labels",
    );
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, Some((half, &LABELS[..1])), &ro, PLAIN),
        "referenceLabels: expected 2 labels",
    );
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, Some((wide, &LABELS[..2])), &ro, PLAIN),
        "reference: expected 1 columns",
    );
    let k0 = RetrievalOptions { k: 0, ..ro };
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, None, &k0, PLAIN),
        "k: expected an integer ≥ 1",
    );
}

/// One op, run under a given call.
type Op<'a> = &'a dyn Fn(&Call) -> Result<(), Error>;

/// A raised stop flag makes every op end in `Cancelled`; with the flag down they finish.
/// Raised mid-run (from the progress sink, after the first block), the op stops early:
/// it reports fewer blocks than a full run and ends in `Cancelled`.
pub fn cancellation(dev: &dyn Device) {
    let name = dev.name();
    let flag = AtomicBool::new(true);
    let call = Call::stoppable(Stop::on(&flag));
    let m = line();
    let cancelled =
        |r: Result<(), Error>, what: &str| assert_eq!(r, Err(Error::Cancelled), "{name}: {what}");
    cancelled(
        dev.pairwise_distances(m, None, &euclidean(), &call)
            .map(drop),
        "pairwise",
    );
    cancelled(
        dev.knn_once(m, m, &euclidean(), &KnnOptions::default(), &call)
            .map(drop),
        "knn",
    );
    for strategy in [Strategy::All, Strategy::BatchHard, Strategy::BatchSemihard] {
        let o = MineOptions {
            strategy,
            ..MineOptions::default()
        };
        cancelled(
            dev.mine_triplets(m, &LABELS, None, &o, &call).map(drop),
            "mining",
        );
    }
    let lo = LossOptions::default();
    cancelled(
        dev.triplet_loss(
            m,
            &LABELS,
            None,
            Mining::Strategy(Strategy::BatchHard),
            &lo,
            &call,
        )
        .map(drop),
        "loss",
    );
    let given = Mining::Triplets {
        anchor: &[0],
        positive: &[1],
        negative: &[2],
    };
    cancelled(
        dev.triplet_loss(m, &LABELS, None, given, &lo, &call)
            .map(drop),
        "loss, given triplets",
    );
    let mo = MarginLossOptions::default();
    cancelled(
        dev.triplet_margin_loss(m, m, m, &mo, &call).map(drop),
        "margin loss",
    );
    cancelled(
        dev.retrieval_metrics(m, &LABELS, None, &RetrievalOptions::default(), &call)
            .map(drop),
        "retrieval",
    );
    flag.store(false, Ordering::Relaxed);
    assert_eq!(
        dev.pairwise_distances(m, None, &euclidean(), &call)
            .expect("flag down")
            .len(),
        16,
        "{name}"
    );

    // In flight: a pass over many blocks; the first finished block raises the flag, so the
    // pass must end in `Cancelled` with only part of its units done. Two threads, so that
    // blocks are still waiting when the flag goes up, however many cores the machine has.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    pool.install(|| in_flight(dev));
}

/// The in-flight half of [`cancellation`].
fn in_flight(dev: &dyn Device) {
    let name = dev.name();
    let (rows, cols) = (2000, 16);
    let mut seed = 5u64;
    let x: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let xm = MatRef::new(&x, rows, cols).expect("2000 × 16");
    let labels: Vec<i32> = (0..rows as i32).map(|i| i % 10).collect();
    // Gradient passes go in chunks of triplets: enough of them for several chunks.
    let semihard = MineOptions {
        strategy: Strategy::BatchSemihard,
        ..MineOptions::default()
    };
    let t = dev
        .mine_triplets(xm, &labels, None, &semihard, PLAIN)
        .expect("triplets");
    let given = Mining::Triplets {
        anchor: &t.anchor,
        positive: &t.positive,
        negative: &t.negative,
    };
    let long: Vec<f32> = (0..200_000 * 2).map(|_| lcg(&mut seed)).collect();
    let lm = MatRef::new(&long, 200_000, 2).expect("200000 × 2");
    let run = |op: Op| -> (Result<(), Error>, usize, usize) {
        let flag = AtomicBool::new(false);
        let (done, total) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let progress = |d: usize, t: usize| {
            done.fetch_add(d, Ordering::Relaxed);
            total.store(t, Ordering::Relaxed);
            flag.store(true, Ordering::Relaxed);
        };
        let call = Call {
            stop: Stop::on(&flag),
            progress: Some(&progress),
            memory: None,
        };
        let r = op(&call);
        (
            r,
            done.load(Ordering::Relaxed),
            total.load(Ordering::Relaxed),
        )
    };
    let knn_o = KnnOptions {
        k: 5,
        ..KnnOptions::default()
    };
    let margin_o = MarginLossOptions::default();
    let ops: [(&str, Op); 6] = [
        ("pairwise", &|c| {
            dev.pairwise_distances(xm, None, &euclidean(), c).map(drop)
        }),
        ("knn", &|c| {
            dev.knn_once(xm, xm, &euclidean(), &knn_o, c).map(drop)
        }),
        ("batch-hard", &|c| {
            dev.mine_triplets(xm, &labels, None, &MineOptions::default(), c)
                .map(drop)
        }),
        ("retrieval", &|c| {
            dev.retrieval_metrics(xm, &labels, None, &RetrievalOptions::default(), c)
                .map(drop)
        }),
        ("loss gradient", &|c| {
            dev.triplet_loss(xm, &labels, None, given, &LossOptions::default(), c)
                .map(drop)
        }),
        ("margin loss", &|c| {
            dev.triplet_margin_loss(lm, lm, lm, &margin_o, c).map(drop)
        }),
    ];
    for (what, op) in ops {
        let (r, done, total) = run(op);
        assert_eq!(r, Err(Error::Cancelled), "{name}: {what} raised mid-run");
        assert!(
            done > 0 && done < total,
            "{name}: {what} stopped after {done} of {total} units"
        );
    }
}

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
