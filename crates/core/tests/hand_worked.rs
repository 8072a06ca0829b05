//! Small cases worked out by hand. Points on a line, x = [0, 1, 3, 6], labels [0, 0, 1, 1]:
//! d(0,1)=1 d(0,2)=3 d(0,3)=6 d(1,2)=2 d(1,3)=5 d(2,3)=3 (euclidean).
//! Valid triplets (a,p,n) with m = d(a,n) − d(a,p):
//! (0,1,2) 2, (0,1,3) 5, (1,0,2) 1, (1,0,3) 4, (2,3,0) 0, (2,3,1) −1, (3,2,0) 3, (3,2,1) 2.

mod common;

use common::{knn, mine_triplets, retrieval_metrics, triplet_loss, triplet_margin_loss};
use tripletkit_core::*;

const X: [f32; 4] = [0.0, 1.0, 3.0, 6.0];
const LABELS: [i32; 4] = [0, 0, 1, 1];

fn line() -> MatRef<'static> {
    MatRef::new(&X, 4, 1).unwrap()
}

fn mine(strategy: Strategy, margin: f32) -> Vec<(i32, i32, i32)> {
    let t = mine_triplets(
        line(),
        &LABELS,
        strategy,
        margin,
        Metric::Euclidean,
        false,
        1000,
    )
    .unwrap();
    (0..t.len())
        .map(|i| (t.anchor[i], t.positive[i], t.negative[i]))
        .collect()
}

#[test]
fn set_strategies() {
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
    assert_eq!(mine(Strategy::All, 1.5), all);
    assert_eq!(
        mine(Strategy::Violating, 1.5),
        vec![(1, 0, 2), (2, 3, 0), (2, 3, 1)]
    );
    assert_eq!(mine(Strategy::Hard, 1.5), vec![(2, 3, 0), (2, 3, 1)]);
    assert_eq!(mine(Strategy::Semihard, 1.5), vec![(1, 0, 2)]);
    assert_eq!(
        mine(Strategy::Easy, 1.5),
        vec![(0, 1, 2), (0, 1, 3), (1, 0, 3), (3, 2, 0), (3, 2, 1)]
    );
}

#[test]
fn batch_strategies() {
    assert_eq!(
        mine(Strategy::BatchHard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)]
    );
    // (2,3): no negative is farther than d(2,3) = 3, so the farthest (0, at 3) is taken.
    assert_eq!(
        mine(Strategy::BatchSemihard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 0), (3, 2, 1)]
    );
}

#[test]
fn ties_go_to_the_lower_index() {
    // x = [0, 1, 1, -1, -1], labels [0, 0, 0, 1, 1]: anchor 0 has positives 1 and 2 at 1 and
    // negatives 3 and 4 at 1: batch-hard takes (0, 1, 3).
    let x = [0.0f32, 1.0, 1.0, -1.0, -1.0];
    let t = mine_triplets(
        MatRef::new(&x, 5, 1).unwrap(),
        &[0, 0, 0, 1, 1],
        Strategy::BatchHard,
        0.2,
        Metric::Euclidean,
        false,
        100,
    )
    .unwrap();
    assert_eq!((t.anchor[0], t.positive[0], t.negative[0]), (0, 1, 3));
}

#[test]
fn too_many_triplets_is_an_error_not_an_allocation() {
    // Batch strategies know their size from the labels: 4 triplets each here.
    for strategy in [Strategy::BatchHard, Strategy::BatchSemihard] {
        let run = |max| {
            mine_triplets(
                line(),
                &LABELS,
                strategy,
                0.2,
                Metric::Euclidean,
                false,
                max,
            )
        };
        assert_eq!(run(3).unwrap_err(), Error::TooManyTriplets { limit: 3 });
        assert_eq!(run(4).unwrap().len(), 4);
    }
    let err = mine_triplets(
        line(),
        &LABELS,
        Strategy::All,
        0.2,
        Metric::Euclidean,
        false,
        7,
    )
    .unwrap_err();
    assert_eq!(err, Error::TooManyTriplets { limit: 7 });
}

fn loss(reduction: Reduction) -> LossResult {
    let opts = LossOptions {
        margin: 1.5,
        soft_margin: false,
        swap: false,
        reduction,
        metric: Metric::Euclidean,
        normalize: false,
    };
    triplet_loss(
        line(),
        &LABELS,
        Mining::Strategy(Strategy::BatchHard),
        opts,
        1000,
    )
    .unwrap()
}

#[test]
fn batch_hard_loss_and_gradient() {
    // Batch-hard triplets: (0,1,2): 1−3+1.5 → 0; (1,0,2): 1−2+1.5 = 0.5; (2,3,1): 3−2+1.5 = 2.5;
    // (3,2,1): 3−5+1.5 → 0. Sum 3 over 4 triplets, 2 active.
    let mean = loss(Reduction::Mean);
    assert_eq!((mean.triplets, mean.active), (4, 2));
    assert!((mean.loss - 0.75).abs() < 1e-12);
    assert!((loss(Reduction::Sum).loss - 3.0).abs() < 1e-12);
    assert!((loss(Reduction::MeanActive).loss - 1.5).abs() < 1e-12);
    // (1,0,2) moves x1 by +1 (away from 0... via d(1,0)) and +1 (via −d(1,2)); x0 −1; x2 −1.
    // (2,3,1) gives x2 −1 −1, x3 +1, x1 +1. Times 1/4 for the mean.
    assert_eq!(mean.grad, vec![-0.25, 0.75, -0.75, 0.25]);
}

#[test]
fn margin_loss_rows() {
    let a = [0.0f32, 0.0, 1.0, 0.0];
    let p = [3.0f32, 4.0, 1.0, 0.0];
    let n = [0.0f32, 1.0, 4.0, 0.0];
    let (a, p, n) = (
        MatRef::new(&a, 2, 2).unwrap(),
        MatRef::new(&p, 2, 2).unwrap(),
        MatRef::new(&n, 2, 2).unwrap(),
    );
    // Row 0: 5 − 1 + 0.2 = 4.2. Row 1: 0 − 3 + 0.2 → 0.
    let r = triplet_margin_loss(
        a,
        p,
        n,
        0.2,
        false,
        false,
        MarginReduction::Mean,
        Metric::Euclidean,
        false,
    );
    assert_eq!(r.losses, vec![4.2, 0.0]);
    assert!((r.loss - 2.1).abs() < 1e-6);
    // ∂/∂a of d(a,p) − d(a,n) = (a−p)/5 − (a−n)/1 = (−0.6, −0.8) − (0, −1) = (−0.6, 0.2), halved.
    assert!((r.grad_anchor[0] + 0.3).abs() < 1e-6 && (r.grad_anchor[1] - 0.1).abs() < 1e-6);
    assert_eq!(&r.grad_anchor[2..], &[0.0, 0.0]);
    let none = triplet_margin_loss(
        a,
        p,
        n,
        0.2,
        false,
        false,
        MarginReduction::None,
        Metric::Euclidean,
        false,
    );
    assert!((none.loss - 4.2).abs() < 1e-6);
    assert!(
        (none.grad_positive[0] - 0.6).abs() < 1e-6 && (none.grad_positive[1] - 0.8).abs() < 1e-6
    );
}

#[test]
fn retrieval_on_the_line() {
    // Self-search, k = 2. q0, q1, q3 find their one relevant item first; q2's ranking is
    // 1 (2), 0 (3), 3 (3): the tie at 3 goes to index 0, so its relevant item is third,
    // beyond the mrr window of max(R_max = 1, k = 2) = 2.
    let r = retrieval_metrics(line(), &LABELS, None, 2, Metric::Euclidean, false);
    assert_eq!(r.queries, 4);
    for v in [
        r.precision_at_1,
        r.r_precision,
        r.map_at_r,
        r.mrr,
        r.recall_at_k,
    ] {
        assert!((v - 0.75).abs() < 1e-12);
    }
    assert!((r.precision_at_k - 0.375).abs() < 1e-12);
}

#[test]
fn knn_excludes_self_and_pads_nothing() {
    let r = knn(line(), line(), 3, Metric::SqEuclidean, false, true, 0);
    assert_eq!(&r.indices[..3], &[1, 2, 3]);
    assert_eq!(&r.distances[..3], &[1.0, 9.0, 36.0]);
}

#[test]
fn a_raised_stop_flag_cancels_every_op() {
    use std::sync::atomic::AtomicBool;
    let flag = AtomicBool::new(true);
    let stop = Stop::on(&flag);
    let m = line();
    let cancelled = Err(Error::Cancelled);
    assert_eq!(
        tripletkit_core::pairwise_distances(m, None, Metric::Euclidean, false, stop),
        cancelled
    );
    assert!(tripletkit_core::knn(m, m, 1, Metric::Euclidean, false, false, 0, stop).is_err());
    for strategy in [Strategy::All, Strategy::BatchHard, Strategy::BatchSemihard] {
        let r = tripletkit_core::mine_triplets(
            m,
            &LABELS,
            strategy,
            0.2,
            Metric::Euclidean,
            false,
            100,
            stop,
        );
        assert_eq!(r, Err(Error::Cancelled));
    }
    let r = tripletkit_core::retrieval_metrics(m, &LABELS, None, 2, Metric::Euclidean, false, stop);
    assert_eq!(r, Err(Error::Cancelled));
    let cpu = Cpu { stop };
    let opts = LossOptions {
        margin: 0.2,
        soft_margin: false,
        swap: false,
        reduction: Reduction::Mean,
        metric: Metric::Euclidean,
        normalize: false,
    };
    assert!(cpu
        .triplet_loss(m, &LABELS, Mining::Strategy(Strategy::BatchHard), opts, 100)
        .is_err());
    // The same ops run to the end with the flag down.
    flag.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        cpu.pairwise_distances(m, None, Metric::Euclidean, false)
            .unwrap()
            .len(),
        16
    );
}
