//! The ops run to the end (no stop flag), with the signatures the tests read best with.
#![allow(dead_code)]

use tripletkit_core as core;
use tripletkit_core::*;

pub fn mine_triplets(
    x: MatRef,
    labels: &[i32],
    s: Strategy,
    margin: f32,
    m: Metric,
    n: bool,
    max: usize,
) -> Result<Triplets, Error> {
    core::mine_triplets(x, labels, s, margin, m, n, max, Stop::NEVER)
}

pub fn triplet_loss(
    x: MatRef,
    labels: &[i32],
    mining: Mining,
    opts: LossOptions,
    max: usize,
) -> Result<LossResult, Error> {
    core::triplet_loss(x, labels, mining, opts, max, Stop::NEVER)
}

#[allow(clippy::too_many_arguments)]
pub fn triplet_margin_loss(
    a: MatRef,
    p: MatRef,
    n: MatRef,
    margin: f64,
    soft: bool,
    swap: bool,
    r: MarginReduction,
    m: Metric,
    norm: bool,
) -> MarginLossResult {
    core::triplet_margin_loss(a, p, n, margin, soft, swap, r, m, norm, Stop::NEVER).unwrap()
}

pub fn retrieval_metrics(
    q: MatRef,
    ql: &[i32],
    reference: Option<(MatRef, &[i32])>,
    k: usize,
    m: Metric,
    n: bool,
) -> Retrieval {
    core::retrieval_metrics(q, ql, reference, k, m, n, Stop::NEVER).unwrap()
}

pub fn knn(q: MatRef, c: MatRef, k: usize, m: Metric, n: bool, ex: bool, off: usize) -> Knn {
    core::knn(q, c, k, m, n, ex, off, Stop::NEVER).unwrap()
}
