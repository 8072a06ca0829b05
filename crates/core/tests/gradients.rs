//! Gradients of the losses against central finite differences of the loss itself.

mod common;

use common::{mine_triplets, triplet_loss};
use tripletkit_core::*;

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn check(metric: Metric, normalize: bool, swap: bool, soft_margin: bool, reduction: Reduction) {
    let (rows, cols) = (9, 4);
    let mut seed =
        3 + metric as u64 * 7 + normalize as u64 * 13 + swap as u64 * 17 + soft_margin as u64 * 19;
    let x: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    let opts = LossOptions {
        margin: 0.3,
        soft_margin,
        swap,
        reduction,
        metric,
        normalize,
    };
    // Fixed triplets: the mining choice is piecewise constant, so finite differences see
    // only the loss itself.
    let t = mine_triplets(
        MatRef::new(&x, rows, cols).unwrap(),
        &labels,
        Strategy::All,
        0.3,
        metric,
        normalize,
        10_000,
    )
    .unwrap();
    let mining = Mining::Triplets {
        anchor: &t.anchor,
        positive: &t.positive,
        negative: &t.negative,
    };
    let at = |x: &[f32]| {
        triplet_loss(
            MatRef::new(x, rows, cols).unwrap(),
            &labels,
            mining,
            opts,
            10_000,
        )
        .unwrap()
    };
    let base = at(&x);
    let h = 1e-3f32;
    for i in 0..rows * cols {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (at(&up).loss - at(&down).loss) / (up[i] as f64 - down[i] as f64);
        let g = base.grad[i] as f64;
        assert!((fd - g).abs() <= 2e-2 * (1.0 + g.abs()), "{metric:?} normalize={normalize} swap={swap} soft={soft_margin} {reduction:?} [{i}]: fd {fd} vs {g}");
    }
}

#[test]
fn triplet_loss_gradient_matches_finite_differences() {
    for metric in [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Dot,
    ] {
        for (normalize, swap, soft) in [
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            check(metric, normalize, swap, soft, Reduction::Mean);
        }
        check(metric, false, false, false, Reduction::Sum);
        check(metric, false, false, false, Reduction::MeanActive);
    }
}
