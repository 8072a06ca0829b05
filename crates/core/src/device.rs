//! The lower of tripletkit's two levels: what a device computes. A device implements a small
//! set of primitives (distance tiles folded as they are made, the backward products through a
//! distance matrix, per-row and per-pair terms); every op is written once above them
//! (`ops::Ops`), so an op's rules and composition are the same on every device.
//!
//! A device is long-lived (a GPU's context, stream and loaded kernels live as long as it
//! does); what belongs to one call, the stop flag, progress and memory budget, comes with the
//! call. Primitives take their arguments checked and their rows prepared (`Rows::prepare`:
//! unit rows for cosine or `normalize`), and return gradients with respect to the prepared
//! rows; the op takes them back through the normalisation. Every primitive returns a
//! `Result`: a device can fail (a driver error, memory) even where the CPU cannot.

use crate::distances::backward::PairwiseGrads;
use crate::distances::Rows;
use crate::losses::oasis::{OasisOptions, OasisSteps};
use crate::losses::term::TermRule;
use crate::{
    Call, Error, Knn, KnnOptions, LadderOptions, MatRef, Metric, MetricOptions, Sample, Strategy,
    Triplets,
};
use std::any::Any;

/// A corpus prepared once on a device (copied, normalised, its norms computed; on a GPU,
/// uploaded) and then searched by many batches of queries.
pub trait Corpus: Any + Send + Sync {
    /// The device that prepared it; only that device can search it.
    fn device(&self) -> &'static str;
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// Bytes it keeps in device memory between searches (a GPU's copy); 0 on the host.
    fn device_bytes(&self) -> usize {
        0
    }
    fn as_any(&self) -> &dyn Any;
}

/// The ops of tripletkit, by their JavaScript names: what `backends()` lists and what a device
/// says it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    PairwiseDistances,
    Knn,
    MineTriplets,
    TripletLoss,
    TripletMarginLoss,
    RetrievalMetrics,
    ContrastiveLoss,
    MultipleNegativesRankingLoss,
    VerificationMetrics,
    LadderLoss,
    SupConLoss,
    FitOasis,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::PairwiseDistances,
        Op::Knn,
        Op::MineTriplets,
        Op::TripletLoss,
        Op::TripletMarginLoss,
        Op::RetrievalMetrics,
        Op::ContrastiveLoss,
        Op::MultipleNegativesRankingLoss,
        Op::VerificationMetrics,
        Op::LadderLoss,
        Op::SupConLoss,
        Op::FitOasis,
    ];

    /// The op's name in the JavaScript API.
    pub fn name(self) -> &'static str {
        match self {
            Op::PairwiseDistances => "pairwiseDistances",
            Op::Knn => "knn",
            Op::MineTriplets => "mineTriplets",
            Op::TripletLoss => "tripletLoss",
            Op::TripletMarginLoss => "tripletMarginLoss",
            Op::RetrievalMetrics => "retrievalMetrics",
            Op::ContrastiveLoss => "contrastiveLoss",
            Op::MultipleNegativesRankingLoss => "multipleNegativesRankingLoss",
            Op::VerificationMetrics => "verificationMetrics",
            Op::LadderLoss => "ladderLoss",
            Op::SupConLoss => "supConLoss",
            Op::FitOasis => "fitOasis",
        }
    }
}

/// The corpus of a top-k search: rows used for this search only, under their metric, or a
/// corpus prepared once for many.
#[derive(Clone, Copy)]
pub enum Searched<'a> {
    Once(MatRef<'a>, MetricOptions),
    Prepared(&'a dyn Corpus),
}

/// A labelled batch as the miners read it: anchors are the rows of `x`; candidates are the
/// rows of `x` (then a row is never its own positive) or of the reference set.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    pub x: MatRef<'a>,
    pub labels: &'a [i32],
    pub reference: Option<(MatRef<'a>, &'a [i32])>,
    pub metric: MetricOptions,
}

impl<'a> Batch<'a> {
    /// The candidates' labels.
    pub fn candidate_labels(&self) -> &'a [i32] {
        self.reference.map_or(self.labels, |r| r.1)
    }
}

/// One side (positive or negative pairs) of a pair hinge: how many pairs, how many with a
/// loss > 0, and their losses' sum.
#[derive(Clone, Copy, Debug, Default)]
pub struct HingeSide {
    pub count: usize,
    pub active: usize,
    pub sum: f64,
}

impl HingeSide {
    pub fn add(&mut self, loss: f64) {
        self.count += 1;
        self.active += usize::from(loss > 0.0);
        self.sum += loss;
    }
    pub fn merge(&mut self, o: &HingeSide) {
        self.count += o.count;
        self.active += o.active;
        self.sum += o.sum;
    }
}

/// The sums of a pair hinge over a batch, and its gradient with respect to the prepared rows
/// (None when both sides' scales are 0).
#[derive(Clone, Debug, Default)]
pub struct Hinge {
    pub pos: HingeSide,
    pub neg: HingeSide,
    pub grad: Option<Vec<f64>>,
}

/// Per-row triplet terms: the losses' sum, how many are > 0, each loss in row order, and the
/// three sides' gradients (rows × cols each, one after another) in f64.
#[derive(Clone, Debug, Default)]
pub struct Terms {
    pub sum: f64,
    pub active: usize,
    pub losses: Vec<f64>,
    pub grad: Vec<f64>,
}

/// A pass of per-row losses over a distance matrix: each row's loss, and the gradient of the
/// op's weighted sum of them with respect to the prepared rows (None: every weight is 0).
#[derive(Clone, Debug, Default)]
pub struct RowTerms {
    pub losses: Vec<f64>,
    pub grads: Option<PairwiseGrads>,
}

/// Each row's weight in the op's reduction, from the rows' losses (0: the row does not count).
pub type RowWeights<'a> = &'a dyn Fn(&[f64]) -> Vec<f64>;

/// Reduction scales of a pair hinge's two sides, from their sums: [positive, negative].
pub type HingeScales<'a> = &'a dyn Fn(&HingeSide, &HingeSide) -> [f64; 2];

/// The primitives of a device. Arguments are checked by the op that calls them.
pub trait Device: Send + Sync {
    /// A short name for messages ('cpu', 'cuda').
    fn name(&self) -> &'static str;
    /// The hardware, for `backends()` (a GPU's model); the name by default.
    fn describe(&self) -> String {
        self.name().to_owned()
    }
    /// Whether the device runs `op`; an op it does not run is refused with
    /// `DeviceUnavailable`, never run elsewhere in silence.
    fn supports(&self, op: Op) -> bool {
        let _ = op;
        true
    }
    /// The largest k `top_k` takes on this device (None: any).
    fn max_k(&self) -> Option<usize> {
        None
    }

    /// D(a, b), row-major `a.rows × b.rows`; `b = None`: D(a, a), whose diagonal is exactly 0.
    fn distances(&self, a: &Rows, b: Option<&Rows>, call: &Call) -> Result<Vec<f32>, Error>;
    /// The coefficient GEMMs of the backward pass through D(a, b): ∂L/∂a and ∂L/∂b (prepared
    /// rows, f64) from C = `backward::coefficients` (`a.rows × b.rows`).
    fn backward(
        &self,
        a: &Rows,
        b: Option<&Rows>,
        c: &[f64],
        call: &Call,
    ) -> Result<PairwiseGrads, Error>;

    /// Takes `rows × cols` values and prepares them for `top_k` under `o`.
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error>;
    /// Each query's `o.k` nearest rows of the corpus: distance tiles folded into top-k lists.
    fn top_k(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error>;
    /// `top_k` against a corpus used once: prepares a copy, then searches it.
    fn top_k_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let prepared =
            self.prepare_corpus(corpus.data().to_vec(), corpus.rows(), corpus.cols(), metric)?;
        self.top_k(queries, &*prepared, o, call)
    }

    /// `top_k` (or `top_k_once`), each query's list of `o.k` indices handed to
    /// `visit(query, list)` as it is made (in any order, from any thread) rather than gathered,
    /// for an op that reads each list once. By default the lists are gathered, then visited.
    fn top_k_visit(
        &self,
        queries: MatRef,
        corpus: Searched,
        o: &KnnOptions,
        call: &Call,
        visit: &(dyn Fn(usize, &[i32]) + Sync),
    ) -> Result<(), Error> {
        let found = match corpus {
            Searched::Once(c, metric) => self.top_k_once(queries, c, &metric, o, call)?,
            Searched::Prepared(c) => self.top_k(queries, c, o, call)?,
        };
        for (q, list) in found.indices.chunks(o.k.max(1)).enumerate() {
            visit(q, list);
        }
        Ok(())
    }
    /// Per anchor, the farthest positive and the nearest negative (ties: the lower index).
    fn batch_hard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error>;
    /// Per (anchor, positive) whose anchor has a negative, FaceNet's semi-hard negative.
    fn batch_semihard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error>;
    /// Every valid triplet a set strategy keeps, in (anchor, positive, negative) order;
    /// `TooManyTriplets` as soon as they pass `max_triplets`.
    fn triplet_set(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        max_triplets: usize,
        call: &Call,
    ) -> Result<Triplets, Error>;
    /// `o.steps` OASIS steps from W (`losses::oasis`): sequential updates of a `d × d` matrix,
    /// on the host by default.
    fn oasis_updates(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error> {
        crate::losses::oasis::oasis_steps(x, labels, weights, o, call)
    }
    /// The sample `s` of a set strategy's triplets: the `s.count` smallest by (key, a, p, n)
    /// (`miners::sample`), in (anchor, positive, negative) order, in O(count) memory.
    fn triplet_sample(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        s: &Sample,
        call: &Call,
    ) -> Result<Triplets, Error>;

    /// Row i of the three sides (`rows × cols` each) is one triplet: its loss under `rule`,
    /// and its gradients.
    fn margin_terms(
        &self,
        sides: [&[f32]; 3],
        rows: usize,
        cols: usize,
        rule: &TermRule,
        call: &Call,
    ) -> Result<Terms, Error>;
    /// Over every ordered pair i ≠ j of the batch: a positive pair (same label) loses
    /// max(0, d − margins[0]), a negative pair max(0, margins[1] − d). The gradient is that
    /// of scales[0] · Σ positive + scales[1] · Σ negative, `scales` taken from the sums.
    fn pair_hinge(
        &self,
        x: &Rows,
        labels: &[i32],
        margins: [f64; 2],
        scales: HingeScales,
        call: &Call,
    ) -> Result<Hinge, Error>;
    /// Supervised contrastive terms of unit rows `x` against themselves, with s_ij = −d_ij/τ
    /// (cosine distances) and `positives[i]` the rows of i's class but i: per anchor with a
    /// positive, l_i = −(1/|P(i)|) Σ_{p∈P(i)} (s_ip − log Σ_{j≠i} exp s_ij) (0 without one);
    /// then, with w = `weights(l)`, the gradient of the loss L whose ∂L/∂d_ij is
    /// w_i · ∂l_i/∂s_ij (`losses::supcon::terms_on_host` is the definition, and the cpu's). A
    /// GPU keeps the N × N matrices on the device.
    fn sup_con_terms(
        &self,
        x: &Rows,
        labels: &[i32],
        positives: &[u32],
        temperature: f64,
        weights: RowWeights,
        call: &Call,
    ) -> Result<RowTerms, Error>;
    /// One pass of the multiple negatives ranking loss over D(q, c) (cosine or dot): per query
    /// row i, `weight` · −log of the softmax of scale · s_ij at j = i (s = −d, the similarity
    /// up to a constant); and the gradients of their sum with respect to the prepared rows,
    /// divided by the scale (`losses::ranking::rank_on_host` is the definition, and the
    /// cpu's). A GPU keeps the matrices on the device.
    fn rank_terms(
        &self,
        q: &Rows,
        c: &Rows,
        scale: f64,
        weight: f64,
        call: &Call,
    ) -> Result<RowTerms, Error>;
    /// The ladder loss over D(q, c) (cosine or dot) with `relevance` (q.rows × c.rows) and the
    /// rungs of `o`, checked: each query's loss, and the gradients of their sum with respect to
    /// the prepared rows (`losses::ladder::ladder_on_host` is the definition, and the cpu's).
    /// A GPU keeps the matrices on the device.
    fn ladder_terms(
        &self,
        q: &Rows,
        c: &Rows,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<RowTerms, Error>;
    /// d(a_i, b_i) for each row i of the two `rows × cols` sides, in f64 (`pair::distance`).
    fn pair_distances(
        &self,
        a: &[f32],
        b: &[f32],
        rows: usize,
        cols: usize,
        metric: Metric,
        call: &Call,
    ) -> Result<Vec<f64>, Error>;
}

/// The CPU kernels of this crate, on rayon's global pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

/// The error for a corpus that `device` did not prepare.
pub fn foreign_corpus(device: &str, corpus: &dyn Corpus) -> Error {
    Error::invalid(
        "corpus",
        format!(
            "expected a corpus prepared on '{device}', received one from '{}'",
            corpus.device()
        ),
    )
}
