//! The seam between an op and the hardware that runs it. `Cpu` runs this crate's kernels; a
//! GPU backend (crates/cuda) implements the same trait with the same meaning, and the binding
//! picks one per call. Every op can fail on a device (a driver error, memory), so each
//! returns a `Result` even where the CPU cannot fail.

use crate::{
    knn, mine_triplets, pairwise_distances, retrieval_metrics, triplet_loss, triplet_margin_loss,
    Error, Knn, LossOptions, LossResult, MarginLossResult, MarginReduction, MatRef, Metric, Mining,
    Retrieval, Strategy, Triplets,
};

/// Options of `triplet_margin_loss`, bundled for the trait.
#[derive(Clone, Copy, Debug)]
pub struct MarginLossOptions {
    pub margin: f64,
    pub soft_margin: bool,
    pub swap: bool,
    pub reduction: MarginReduction,
    pub metric: Metric,
    pub normalize: bool,
}

/// Every op of tripletkit, as one device runs it. Arguments mean what the free functions of
/// this crate say they mean.
pub trait Device: Sync {
    /// A short name for messages ('cpu', 'cuda').
    fn name(&self) -> &'static str;
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        metric: Metric,
        normalize: bool,
    ) -> Result<Vec<f32>, Error>;
    #[allow(clippy::too_many_arguments)]
    fn knn(
        &self,
        queries: MatRef,
        corpus: MatRef,
        k: usize,
        metric: Metric,
        normalize: bool,
        exclude_self: bool,
        query_offset: usize,
    ) -> Result<Knn, Error>;
    #[allow(clippy::too_many_arguments)]
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        strategy: Strategy,
        margin: f32,
        metric: Metric,
        normalize: bool,
        max_triplets: usize,
    ) -> Result<Triplets, Error>;
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        mining: Mining,
        opts: LossOptions,
        max_triplets: usize,
    ) -> Result<LossResult, Error>;
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        opts: MarginLossOptions,
    ) -> Result<MarginLossResult, Error>;
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        k: usize,
        metric: Metric,
        normalize: bool,
    ) -> Result<Retrieval, Error>;
}

/// The CPU kernels of this crate, on rayon's global pool.
pub struct Cpu;

impl Device for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        metric: Metric,
        normalize: bool,
    ) -> Result<Vec<f32>, Error> {
        Ok(pairwise_distances(a, b, metric, normalize))
    }
    fn knn(
        &self,
        queries: MatRef,
        corpus: MatRef,
        k: usize,
        metric: Metric,
        normalize: bool,
        exclude_self: bool,
        query_offset: usize,
    ) -> Result<Knn, Error> {
        Ok(knn(
            queries,
            corpus,
            k,
            metric,
            normalize,
            exclude_self,
            query_offset,
        ))
    }
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        strategy: Strategy,
        margin: f32,
        metric: Metric,
        normalize: bool,
        max_triplets: usize,
    ) -> Result<Triplets, Error> {
        mine_triplets(x, labels, strategy, margin, metric, normalize, max_triplets)
    }
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        mining: Mining,
        opts: LossOptions,
        max_triplets: usize,
    ) -> Result<LossResult, Error> {
        triplet_loss(x, labels, mining, opts, max_triplets)
    }
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: MarginLossOptions,
    ) -> Result<MarginLossResult, Error> {
        Ok(triplet_margin_loss(
            anchor,
            positive,
            negative,
            o.margin,
            o.soft_margin,
            o.swap,
            o.reduction,
            o.metric,
            o.normalize,
        ))
    }
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        k: usize,
        metric: Metric,
        normalize: bool,
    ) -> Result<Retrieval, Error> {
        Ok(retrieval_metrics(
            queries,
            query_labels,
            reference,
            k,
            metric,
            normalize,
        ))
    }
}
