//! The losses: hand-worked cases, gradients against finite differences, and the float32 range.
use crate::common::*;
use tripletkit_core::{
    ContrastiveOptions, Device, LadderOptions, LossOptions, MarginLossOptions, MatRef, Metric,
    MetricOptions, MineOptions, Mining, Ops, RankingOptions, Reduction, Similarity, Strategy,
    SupConOptions,
};

/// The losses' small cases, worked out by hand.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
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

    let xb = [0.0f32, 10.0];
    let rb = [1.0f32, 3.0, 9.0, 12.0];
    let (xm, rm) = (
        MatRef::new(&xb, 2, 1).expect("2 × 1"),
        MatRef::new(&rb, 4, 1).expect("4 × 1"),
    );
    let reference = Some((rm, &[0, 1, 1, 0][..]));
    // Cross-batch memory: the reference of `miners::hand_worked`.
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
            reference,
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
        .triplet_loss(xm, &[0, 1], reference, given, &lo, PLAIN)
        .expect("given");
    assert!(
        (r.loss - (1.0 - 3.0 + 0.5f64).max(0.0)).abs() < 1e-9,
        "{name}: given cross-batch triplet"
    );
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

/// `sup_con_loss` on cases worked out by hand, and its gradient against finite differences.
pub fn sup_con(dev: &dyn Device) {
    let name = dev.name();
    // x0 = x1 = (1, 0), x2 = (0, 1), labels 0, 0, 1, τ = 1: cosines c01 = 1, c02 = c12 = 0.
    // Anchors 0 and 1 lose −(1 − log(e + 1)) = log(1 + 1/e); row 2 has no positive.
    let x = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0];
    let m = MatRef::new(&x, 3, 2).expect("3 × 2");
    let unit = SupConOptions { temperature: 1.0 };
    let r = dev
        .sup_con_loss(m, &[0, 0, 1], &unit, PLAIN)
        .expect("supCon");
    let want = (-1.0f64).exp().ln_1p();
    assert!((r.loss - want).abs() < 1e-6, "{name}: supCon {}", r.loss);
    assert_eq!(r.anchors, 2, "{name}: supCon anchors");
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

/// Distances past float32's range: the losses read them in float64 (docs/SEMANTICS.md), so a
/// product that overflows or underflows float32 still counts; and absurd scales saturate, never
/// giving NaN.
pub fn range(dev: &dyn Device) {
    let name = dev.name();
    let m = |x: &'static [f32], rows| MatRef::new(x, rows, x.len() / rows).expect("matrix");
    let dot = |scale| RankingOptions {
        scale,
        similarity: Similarity::Dot,
        symmetric: false,
    };
    // s = scale · a·p: 4e38, −2e38 / 2e38, −1e38, times 1e-38: rows (4, −2) and (2, −1), the
    // positives on the diagonal: (log(1 + e⁻⁶) + 3 + log(1 + e⁻³)) / 2.
    let want = ((-6.0f64).exp().ln_1p() + 3.0 + (-3.0f64).exp().ln_1p()) / 2.0;
    let r = dev
        .multiple_negatives_ranking_loss(
            m(&[2e19, 1e19], 2),
            m(&[2e19, -1e19], 2),
            None,
            &dot(1e-38),
            PLAIN,
        )
        .expect("ranking, large products");
    assert!((r.loss - want).abs() < 1e-6, "{name}: {} vs {want}", r.loss);
    // The same similarities from products below float32's smallest (4e-46 …) times 1e46.
    let r = dev
        .multiple_negatives_ranking_loss(
            m(&[2e-23, 1e-23], 2),
            m(&[2e-23, -1e-23], 2),
            None,
            &dot(1e46),
            PLAIN,
        )
        .expect("ranking, small products");
    assert!((r.loss - want).abs() < 1e-6, "{name}: {} vs {want}", r.loss);

    // Ladder: s = 4e38 above the rung, 2e38 below: 3e38 − 4e38 + 2e38 = 1e38.
    let o = LadderOptions {
        thresholds: vec![0.5],
        margins: vec![3e38],
        weights: vec![],
        hardest: true,
        similarity: Similarity::Dot,
    };
    let r = dev
        .ladder_loss(
            m(&[2e19], 1),
            m(&[2e19, 1e19], 2),
            m(&[1.0, 0.0], 1),
            &o,
            PLAIN,
        )
        .expect("ladder");
    assert!(
        (r.loss / 1e38 - 1.0).abs() < 1e-6,
        "{name}: ladder {}",
        r.loss
    );

    // Contrastive, sqeuclidean: a positive pair 4e38 apart (past float32's largest) loses 4e38.
    let sq = |normalize| ContrastiveOptions {
        distance: MetricOptions {
            metric: Metric::SqEuclidean,
            normalize,
        },
        ..ContrastiveOptions::default()
    };
    let r = dev
        .contrastive_loss(m(&[1e19, -1e19], 2), &[0, 0], &sq(false), PLAIN)
        .expect("contrastive, large");
    assert!(
        (r.loss / 4e38 - 1.0).abs() < 1e-6,
        "{name}: contrastive {}",
        r.loss
    );
    assert!(r.grad.iter().all(|g| g.is_finite()), "{name}: {:?}", r.grad);
    // A positive pair 1e-46 apart (below float32's smallest) is active, gradient ±2e-23.
    let r = dev
        .contrastive_loss(m(&[1e-23, 0.0], 2), &[0, 0], &sq(false), PLAIN)
        .expect("contrastive, small");
    assert_eq!(r.active, 2, "{name}: contrastive active");
    assert!(
        (r.grad[0] / 2e-23 - 1.0).abs() < 1e-6 && (r.grad[1] / -2e-23 - 1.0).abs() < 1e-6,
        "{name}: contrastive gradient {:?}",
        r.grad
    );

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
