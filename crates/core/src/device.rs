//! The seam between an op and the hardware that runs it. `Cpu` runs this crate's kernels; a
//! GPU backend (crates/cuda) implements the same trait with the same meaning, and the binding
//! picks one per call. Every op can fail on a device (a driver error, memory), so each
//! returns a `Result` even where the CPU cannot fail.

use crate::{
    knn, mine_triplets, pairwise_distances, retrieval_metrics, triplet_loss, triplet_margin_loss,
    Error, Knn, LossOptions, LossResult, MarginLossResult, MarginReduction, MatRef, Metric, Mining,
    Retrieval, Stop, Strategy, Triplets,
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

/// The CPU kernels of this crate, on rayon's global pool, stopped early by `stop`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu<'s> {
    pub stop: Stop<'s>,
}

impl Device for Cpu<'_> {
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
        pairwise_distances(a, b, metric, normalize, self.stop)
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
        let (stop, offset) = (self.stop, query_offset);
        knn(
            queries,
            corpus,
            k,
            metric,
            normalize,
            exclude_self,
            offset,
            stop,
        )
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
        let (stop, max) = (self.stop, max_triplets);
        mine_triplets(x, labels, strategy, margin, metric, normalize, max, stop)
    }
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        mining: Mining,
        opts: LossOptions,
        max_triplets: usize,
    ) -> Result<LossResult, Error> {
        triplet_loss(x, labels, mining, opts, max_triplets, self.stop)
    }
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: MarginLossOptions,
    ) -> Result<MarginLossResult, Error> {
        let (a, p, n) = (anchor, positive, negative);
        triplet_margin_loss(
            a,
            p,
            n,
            o.margin,
            o.soft_margin,
            o.swap,
            o.reduction,
            o.metric,
            o.normalize,
            self.stop,
        )
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
        let stop = self.stop;
        retrieval_metrics(queries, query_labels, reference, k, metric, normalize, stop)
    }
}
