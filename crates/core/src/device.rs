//! The seam between an op and the hardware that runs it. A device is long-lived (a GPU's
//! context, stream and loaded kernels live as long as it does); what belongs to one call,
//! the stop flag and the progress sink, comes with the call. `Cpu` runs this crate's kernels;
//! a GPU backend implements the same trait with the same meaning. Every op returns a
//! `Result`: a device can fail (a driver error, memory) even where the CPU cannot.

use crate::distance::Rows;
use crate::{
    contrastive_loss, knn, ladder_loss, mine_triplets, multiple_negatives_ranking_loss,
    oasis_steps, pairwise_distances, retrieval_metrics, triplet_loss, triplet_margin_loss,
    verification_metrics, Call, ContrastiveOptions, Error, Knn, KnnOptions, LadderOptions,
    LadderResult, LossOptions, LossResult, MarginLossOptions, MarginLossResult, MatRef,
    MetricOptions, MineOptions, Mining, OasisOptions, OasisSteps, RankingOptions, RankingResult,
    Retrieval, RetrievalOptions, Triplets, Verification, VerificationOptions,
};
use std::any::Any;

/// A corpus prepared once on a device (copied, normalised, its norms computed; on a GPU,
/// uploaded) and then searched by many batches of queries.
pub trait Corpus: Any + Send + Sync {
    /// The device that prepared it; only that device can search it.
    fn device(&self) -> &'static str;
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    fn as_any(&self) -> &dyn Any;
}

/// Every op of tripletkit, as one device runs it. Arguments mean what the free functions of
/// this crate say they mean, and each op checks its own rules.
pub trait Device: Send + Sync {
    /// A short name for messages ('cpu', 'cuda').
    fn name(&self) -> &'static str;
    /// The hardware, for `backends()` (a GPU's model); the name by default.
    fn describe(&self) -> String {
        self.name().to_owned()
    }
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        o: &MetricOptions,
        call: &Call,
    ) -> Result<Vec<f32>, Error>;
    /// Takes `rows × cols` values and prepares them for `knn` under `o`.
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error>;
    fn knn(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error>;
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &MineOptions,
        call: &Call,
    ) -> Result<Triplets, Error>;
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        mining: Mining,
        o: &LossOptions,
        call: &Call,
    ) -> Result<LossResult, Error>;
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: &MarginLossOptions,
        call: &Call,
    ) -> Result<MarginLossResult, Error>;
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions,
        call: &Call,
    ) -> Result<Retrieval, Error>;

    fn contrastive_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &ContrastiveOptions,
        call: &Call,
    ) -> Result<LossResult, Error>;
    fn multiple_negatives_ranking_loss(
        &self,
        anchors: MatRef,
        positives: MatRef,
        negatives: Option<MatRef>,
        o: &RankingOptions,
        call: &Call,
    ) -> Result<RankingResult, Error>;

    fn verification_metrics(
        &self,
        a: MatRef,
        b: MatRef,
        same: &[u8],
        o: &VerificationOptions,
        call: &Call,
    ) -> Result<Verification, Error>;

    fn ladder_loss(
        &self,
        queries: MatRef,
        candidates: MatRef,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<LadderResult, Error>;

    fn oasis_steps(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error>;

    /// `knn` against a corpus used once: prepares a copy, then searches it.
    fn knn_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let prepared =
            self.prepare_corpus(corpus.data().to_vec(), corpus.rows(), corpus.cols(), metric)?;
        self.knn(queries, &*prepared, o, call)
    }
}

/// The CPU kernels of this crate, on rayon's global pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

impl Corpus for Rows<'static> {
    fn device(&self) -> &'static str {
        "cpu"
    }
    fn rows(&self) -> usize {
        Rows::rows(self)
    }
    fn cols(&self) -> usize {
        Rows::cols(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Device for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        o: &MetricOptions,
        call: &Call,
    ) -> Result<Vec<f32>, Error> {
        pairwise_distances(a, b, o, call)
    }
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error> {
        Ok(Box::new(Rows::prepare_owned(
            "corpus", data, rows, cols, *o,
        )?))
    }
    /// Borrows the corpus instead of copying it (the default copies, as a GPU must upload).
    fn knn_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        knn(queries, &Rows::prepare(corpus, *metric), o, call)
    }
    fn knn(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let rows = corpus
            .as_any()
            .downcast_ref::<Rows<'static>>()
            .ok_or_else(|| {
                Error::invalid(
                    "corpus",
                    format!(
                        "expected a corpus prepared on 'cpu', received one from '{}'",
                        corpus.device()
                    ),
                )
            })?;
        knn(queries, rows, o, call)
    }
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &MineOptions,
        call: &Call,
    ) -> Result<Triplets, Error> {
        mine_triplets(x, labels, reference, o, call)
    }
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        mining: Mining,
        o: &LossOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        triplet_loss(x, labels, reference, mining, o, call)
    }
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: &MarginLossOptions,
        call: &Call,
    ) -> Result<MarginLossResult, Error> {
        triplet_margin_loss(anchor, positive, negative, o, call)
    }
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions,
        call: &Call,
    ) -> Result<Retrieval, Error> {
        retrieval_metrics(queries, query_labels, reference, o, call)
    }
    fn contrastive_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &ContrastiveOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        contrastive_loss(x, labels, o, call)
    }
    fn multiple_negatives_ranking_loss(
        &self,
        anchors: MatRef,
        positives: MatRef,
        negatives: Option<MatRef>,
        o: &RankingOptions,
        call: &Call,
    ) -> Result<RankingResult, Error> {
        multiple_negatives_ranking_loss(anchors, positives, negatives, o, call)
    }
    fn verification_metrics(
        &self,
        a: MatRef,
        b: MatRef,
        same: &[u8],
        o: &VerificationOptions,
        call: &Call,
    ) -> Result<Verification, Error> {
        verification_metrics(a, b, same, o, call)
    }
    fn ladder_loss(
        &self,
        queries: MatRef,
        candidates: MatRef,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<LadderResult, Error> {
        ladder_loss(queries, candidates, relevance, o, call)
    }
    fn oasis_steps(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error> {
        oasis_steps(x, labels, weights, o, call)
    }
}
