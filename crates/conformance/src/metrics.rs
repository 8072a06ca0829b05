//! The retrieval metrics: hand-worked cases.
use crate::common::*;
use tripletkit_core::{Device, Ops, RetrievalOptions};

/// The metrics' small cases, worked out by hand.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
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
}
