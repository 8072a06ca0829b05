//! `multipleNegativesRankingLoss` on a GPU: the similarity matrix is one distance pass on the
//! device; the host takes each row's log-softmax and its coefficients, O(rows · candidates),
//! with the core's code; the gradient's two products run on the device (`backward.rs`).
use super::backward::backward_products;
use super::distance::pairwise_distances;
use crate::gpu::Gpu;
use tripletkit_core::ranking::{metric, ranking_loss_with, softmax_coefficients};
use tripletkit_core::{Call, Error, MatRef, RankingOptions, RankingResult};

pub fn multiple_negatives_ranking_loss(
    gpu: &dyn Gpu,
    memory: usize,
    anchors: MatRef,
    positives: MatRef,
    negatives: Option<MatRef>,
    o: &RankingOptions,
    call: &Call,
) -> Result<RankingResult, Error> {
    let metric = metric(o);
    ranking_loss_with(anchors, positives, negatives, o, |q, c, weight| {
        let d = pairwise_distances(gpu, memory, q, Some(c), &metric, call)?;
        let (loss, g) = softmax_coefficients(&d, c.rows(), o.scale, weight);
        let (gq, gk) = backward_products(gpu, memory, q, c, &metric, &d, &g)?;
        Ok((loss, gq, gk))
    })
}
