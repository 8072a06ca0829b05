//! `ladderLoss` on a GPU: the similarity matrix is one distance pass on the device; the host
//! picks each query's pairs per rung with the core's code, O(queries · candidates · rungs);
//! the gradient's two products run on the device (`backward.rs`).
use super::backward::backward_products;
use super::distance::pairwise_distances;
use crate::gpu::Gpu;
use tripletkit_core::{ladder, pair, Call, Error, LadderOptions, LadderResult, MatRef};

pub fn ladder_loss(
    gpu: &dyn Gpu,
    memory: usize,
    queries: MatRef,
    candidates: MatRef,
    relevance: MatRef,
    o: &LadderOptions,
    call: &Call,
) -> Result<LadderResult, Error> {
    let metric = ladder::check(queries, candidates, relevance, o)?;
    let d = pairwise_distances(gpu, memory, queries, Some(candidates), &metric, call)?;
    let (loss, g) = ladder::coefficients(&d, relevance, o, call)?;
    let (gq, gk) = backward_products(gpu, memory, queries, candidates, &metric, &d, &g)?;
    let to_f32 = |v: Vec<f64>| v.into_iter().map(pair::grad_to_f32).collect::<Vec<f32>>();
    Ok(LadderResult {
        loss,
        grad_queries: to_f32(gq),
        grad_candidates: to_f32(gk),
    })
}
