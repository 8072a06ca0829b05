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
}
