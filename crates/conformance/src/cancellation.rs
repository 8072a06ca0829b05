//! Cancellation, before and during a run.
use crate::common::*;
use tripletkit_core::{
    Call, Device, Error, KnnOptions, LossOptions, MarginLossOptions, MatRef, MineOptions, Mining,
    Ops, RetrievalOptions, Stop, Strategy,
};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
            max_memory: None,
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
