//! The distances and knn: hand-worked cases.
use crate::common::*;
use tripletkit_core::{Device, KnnOptions, MatRef, Metric, MetricOptions, Ops};

/// The distances' small cases, worked out by hand.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
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

    // Pairwise over x0 = (0, 0), x1 = (3, 4): a 3-4-5 triangle, and a zero vector is at cosine
    // distance 1 from everything.
    let m2 = MatRef::new(&[0.0, 0.0, 3.0, 4.0], 2, 2).expect("2 × 2");
    for &(metric, want) in PAIRWISE {
        let o = MetricOptions {
            metric,
            normalize: false,
        };
        let d = dev
            .pairwise_distances(m2, None, &o, PLAIN)
            .expect("pairwise");
        assert_eq!(d, want, "{name}: pairwise {metric:?}");
    }
}

/// D(x, x) of x0 = (0, 0), x1 = (3, 4), by metric.
const PAIRWISE: &[(Metric, [f32; 4])] = &[
    (Metric::Euclidean, [0.0, 5.0, 5.0, 0.0]),
    (Metric::SqEuclidean, [0.0, 25.0, 25.0, 0.0]),
    (Metric::Cosine, [1.0, 1.0, 1.0, 0.0]),
    (Metric::Dot, [0.0, 0.0, 0.0, -25.0]),
];
