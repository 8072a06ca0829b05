//! The 3xTF32 tiles (`Math::Tf32x3`) through the emulator, whose shim rounds to TF32 as
//! cvt.rna does and sums each product's terms in FP32: a hand-worked product, then every tile
//! kernel against the cpu device within the stated tolerance.
//!
//! Tolerance: a dot product within 1e-5 · (‖a‖² + ‖b‖²) of the cpu's, and so a squared
//! distance (a euclidean one squared; cosine on unit rows). One TF32 product a term, without
//! the low parts, misses that by about 50 times.
use tripletkit_core::Ops;
use tripletkit_core::{
    Call, Cpu, KnnOptions, LossOptions, MatRef, Metric, MetricOptions, Mining, Strategy,
};
use tripletkit_cuda::math::Math;
use tripletkit_cuda::Cuda;

mod common;
use common::Rng;

const TOL: f64 = 1e-5;

fn tf32() -> Cuda {
    Cuda::emulated().with_math(Math::Tf32x3)
}

fn opts(metric: Metric) -> MetricOptions {
    MetricOptions {
        metric,
        normalize: false,
    }
}

/// x = 1 + 2⁻¹² + 2⁻²³ splits into hi = 1 and lo = 2⁻¹² + 2⁻²² (2⁻²³ is a tie, rounded
/// away from zero), so x·x by 3xTF32 is lo·hi + hi·lo + hi·hi = 1 + 2⁻¹¹ + 2⁻²¹, where FP32's
/// one rounding of the exact square gives 1 + 2⁻¹¹ + 2⁻²² + 2⁻²³.
#[test]
fn a_product_by_3xtf32_worked_by_hand() {
    let x = [1.0 + 2f32.powi(-12) + 2f32.powi(-23)];
    let xm = MatRef::new(&x, 1, 1).unwrap();
    let o = opts(Metric::Dot);
    let got = tf32()
        .pairwise_distances(xm, Some(xm), &o, &Call::PLAIN)
        .unwrap();
    assert_eq!(got[0], -(1.0 + 2f32.powi(-11) + 2f32.powi(-21)));
    let fp32 = Cuda::emulated()
        .pairwise_distances(xm, Some(xm), &o, &Call::PLAIN)
        .unwrap();
    assert_eq!(
        fp32[0],
        -(1.0 + 2f32.powi(-11) + 2f32.powi(-22) + 2f32.powi(-23))
    );
    assert_eq!(
        fp32,
        Cpu.pairwise_distances(xm, Some(xm), &o, &Call::PLAIN)
            .unwrap()
    );
}

/// ‖row‖² of each row of `x`, in f64.
fn sq_norms(x: &[f32], d: usize) -> Vec<f64> {
    x.chunks(d.max(1))
        .map(|r| r.iter().map(|&v| f64::from(v) * f64::from(v)).sum())
        .collect()
}

/// Whether `got` is within tolerance of the cpu's `want` for rows of squared norms na and nb.
fn within(metric: Metric, got: f32, want: f32, na: f64, nb: f64) -> bool {
    let (g, w) = (f64::from(got), f64::from(want));
    match metric {
        Metric::Euclidean => (g * g - w * w).abs() <= TOL * (na + nb),
        Metric::Cosine => (g - w).abs() <= 2.0 * TOL,
        Metric::SqEuclidean | Metric::Dot => (g - w).abs() <= TOL * (na + nb),
    }
}

#[test]
fn distances_are_the_cpus_within_tolerance_every_metric() {
    let mut rng = Rng(211);
    let (n, m, d) = (131, 77, 37);
    let (a, b) = (rng.matrix(n, d), rng.matrix(m, d));
    let (am, bm) = (
        MatRef::new(&a, n, d).unwrap(),
        MatRef::new(&b, m, d).unwrap(),
    );
    let (na, nb) = (sq_norms(&a, d), sq_norms(&b, d));
    for metric in [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Dot,
    ] {
        let o = opts(metric);
        let got = tf32()
            .pairwise_distances(am, Some(bm), &o, &Call::PLAIN)
            .unwrap();
        let want = Cpu
            .pairwise_distances(am, Some(bm), &o, &Call::PLAIN)
            .unwrap();
        for i in 0..n {
            for j in 0..m {
                let (g, w) = (got[i * m + j], want[i * m + j]);
                assert!(
                    within(metric, g, w, na[i], nb[j]),
                    "{metric:?} ({i}, {j}): {g} vs {w}"
                );
            }
        }
        // The tensor-core path ran: some distance is not the FP32 tile's.
        let fp32 = Cuda::emulated()
            .pairwise_distances(am, Some(bm), &o, &Call::PLAIN)
            .unwrap();
        assert_eq!(fp32, want, "{metric:?}: the FP32 tiles are the cpu's bits");
        assert_ne!(got, want, "{metric:?}");
        // The epilogue's rules hold: a self-distance diagonal is exactly 0, nothing negative.
        if metric != Metric::Dot {
            let selfd = tf32()
                .pairwise_distances(am, None, &o, &Call::PLAIN)
                .unwrap();
            assert!((0..n).all(|i| selfd[i * n + i] == 0.0), "{metric:?}");
            assert!(selfd.iter().all(|&v| v >= 0.0), "{metric:?}");
        }
    }
}

#[test]
fn knn_lists_are_the_cpus_within_tolerance() {
    let mut rng = Rng(223);
    let (nq, nc, d, k) = (45, 700, 19, 12);
    let (q, c) = (rng.matrix(nq, d), rng.matrix(nc, d));
    let (qm, cm) = (
        MatRef::new(&q, nq, d).unwrap(),
        MatRef::new(&c, nc, d).unwrap(),
    );
    let (nqs, ncs) = (sq_norms(&q, d), sq_norms(&c, d));
    for metric in [Metric::Euclidean, Metric::Cosine] {
        let o = opts(metric);
        let all = Cpu
            .pairwise_distances(qm, Some(cm), &o, &Call::PLAIN)
            .unwrap();
        let ko = KnnOptions {
            k,
            ..KnnOptions::default()
        };
        for cuda in [tf32(), tf32().with_memory(90_000)] {
            let got = cuda.knn_once(qm, cm, &o, &ko, &Call::PLAIN).unwrap();
            for i in 0..nq {
                let row = &all[i * nc..(i + 1) * nc];
                let mut sorted = row.to_vec();
                sorted.sort_by(f32::total_cmp);
                let ids = &got.indices[i * k..(i + 1) * k];
                let ds = &got.distances[i * k..(i + 1) * k];
                for t in 0..k {
                    let j = ids[t] as usize;
                    // Each neighbour's distance is its cpu distance, within tolerance …
                    assert!(
                        within(metric, ds[t], row[j], nqs[i], ncs[j]),
                        "{metric:?} {i}"
                    );
                    // … in ascending order, and no farther than the cpu's t-th nearest.
                    assert!(t == 0 || ds[t - 1] <= ds[t]);
                    let near =
                        row[j] <= sorted[t] || within(metric, row[j], sorted[t], nqs[i], ncs[j]);
                    assert!(
                        near,
                        "{metric:?} {i}: {} past the cpu's {}",
                        row[j], sorted[t]
                    );
                    assert!(!ids[..t].contains(&ids[t]));
                }
            }
        }
    }
}

#[test]
fn batch_hard_and_semihard_losses_are_the_cpus_within_tolerance() {
    let mut rng = Rng(227);
    let (n, d) = (150, 24);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 7);
    let xm = MatRef::new(&x, n, d).unwrap();
    let o = LossOptions::default();
    for s in [Strategy::BatchHard, Strategy::BatchSemihard] {
        let mining = Mining::Strategy(s);
        let want = Cpu
            .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
            .unwrap();
        for cuda in [tf32(), tf32().with_memory(60_000)] {
            let got = cuda
                .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
                .unwrap();
            assert_eq!(got.triplets, want.triplets, "{s:?}");
            assert!(
                (got.loss - want.loss).abs() <= 1e-4 * want.loss.abs().max(1.0),
                "{s:?}: {} vs {}",
                got.loss,
                want.loss
            );
        }
    }
}
