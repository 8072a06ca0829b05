//! The options of every op, one struct per op, shared by the free functions, the `Device`
//! trait and the bindings. `Default` gives API.md's defaults.

use crate::{Metric, Reduction, Similarity, Strategy};

/// α when the caller gives none.
pub const DEFAULT_MARGIN: f64 = 0.2;
/// k of `retrieval_metrics` when the caller gives none.
pub const DEFAULT_RETRIEVAL_K: usize = 10;
/// The most triplets any op returns or reduces over (typed arrays and int32 indices).
pub const MAX_TRIPLETS: usize = i32::MAX as usize;

/// How distances are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MetricOptions {
    pub metric: Metric,
    /// L2-normalise every row first (gradients flow through it).
    pub normalize: bool,
}

/// Options of `knn` against a prepared corpus (whose `MetricOptions` it carries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnnOptions {
    /// Neighbours per query: 1 ≤ k ≤ corpus rows (− 1 with `exclude_self`).
    pub k: usize,
    /// Query i (global index `query_offset + i`) never returns that corpus index.
    pub exclude_self: bool,
    /// Global index of the first query row, so `exclude_self` works on a batch of queries.
    pub query_offset: usize,
}

impl Default for KnnOptions {
    fn default() -> Self {
        KnnOptions {
            k: 1,
            exclude_self: false,
            query_offset: 0,
        }
    }
}

/// A sample of a set strategy's triplets (docs/SEMANTICS.md, "Sampled mining"): the `count`
/// triplets of the smallest keys h(seed, a, p, n), where a, p and n are global indices: the
/// call's anchors start at `anchor_offset`, its reference rows at `reference_offset` (a
/// batch without a reference draws its candidates from the anchors, at `anchor_offset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub count: usize,
    pub seed: u64,
    pub anchor_offset: u64,
    pub reference_offset: u64,
}

/// Options of `mine_triplets`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MineOptions {
    pub strategy: Strategy,
    /// α of the set strategies (compared in float32).
    pub margin: f64,
    pub distance: MetricOptions,
    /// Fail with `TooManyTriplets` rather than produce more triplets than this.
    pub max_triplets: usize,
    /// Keep a sample of the set rather than all of it (set strategies only); never refused by
    /// `max_triplets`.
    pub sample: Option<Sample>,
}

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            strategy: Strategy::BatchHard,
            margin: DEFAULT_MARGIN,
            distance: MetricOptions::default(),
            max_triplets: MAX_TRIPLETS,
            sample: None,
        }
    }
}

/// Options of `triplet_loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossOptions {
    /// α, used by the mining strategy and the hinge.
    pub margin: f64,
    /// softplus(d(a,p) − d(a,n)) instead of the hinge.
    pub soft_margin: bool,
    /// d(a,n) := min(d(a,n), d(p,n)).
    pub swap: bool,
    /// `Mean`, `Sum` or `MeanActive`.
    pub reduction: Reduction,
    pub distance: MetricOptions,
    /// As `MineOptions::max_triplets`, for mining strategies.
    pub max_triplets: usize,
    /// As `MineOptions::sample`.
    pub sample: Option<Sample>,
}

impl Default for LossOptions {
    fn default() -> Self {
        LossOptions {
            margin: DEFAULT_MARGIN,
            soft_margin: false,
            swap: false,
            reduction: Reduction::Mean,
            distance: MetricOptions::default(),
            max_triplets: MAX_TRIPLETS,
            sample: None,
        }
    }
}

/// Options of `triplet_margin_loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarginLossOptions {
    pub margin: f64,
    pub soft_margin: bool,
    pub swap: bool,
    /// `Mean`, `Sum` or `None`.
    pub reduction: Reduction,
    pub distance: MetricOptions,
}

impl Default for MarginLossOptions {
    fn default() -> Self {
        MarginLossOptions {
            margin: DEFAULT_MARGIN,
            soft_margin: false,
            swap: false,
            reduction: Reduction::Mean,
            distance: MetricOptions::default(),
        }
    }
}

/// Options of `contrastive_loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContrastiveOptions {
    /// Positive pairs cost max(0, d − pos_margin).
    pub pos_margin: f64,
    /// Negative pairs cost max(0, neg_margin − d).
    pub neg_margin: f64,
    /// `Mean`, `Sum` or `MeanActive`, applied to each side on its own.
    pub reduction: Reduction,
    pub distance: MetricOptions,
}

impl Default for ContrastiveOptions {
    fn default() -> Self {
        ContrastiveOptions {
            pos_margin: 0.0,
            neg_margin: 1.0,
            reduction: Reduction::Mean,
            distance: MetricOptions::default(),
        }
    }
}

/// Options of `multiple_negatives_ranking_loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankingOptions {
    /// Similarities are multiplied by this before the softmax.
    pub scale: f64,
    pub similarity: Similarity,
    /// Also rank the anchors for each positive, and average the two losses.
    pub symmetric: bool,
}

impl Default for RankingOptions {
    fn default() -> Self {
        RankingOptions {
            scale: 20.0,
            similarity: Similarity::Cosine,
            symmetric: false,
        }
    }
}

/// Options of `verification_metrics`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerificationOptions {
    /// The false-accept rate of `tar_at_far`, from 0 to 1.
    pub far: f64,
    pub distance: MetricOptions,
}

impl Default for VerificationOptions {
    fn default() -> Self {
        VerificationOptions {
            far: 1e-3,
            distance: MetricOptions::default(),
        }
    }
}

/// Options of `ladder_loss`: the rungs of the ladder.
#[derive(Clone, Debug, PartialEq)]
pub struct LadderOptions {
    /// θ₁ > θ₂ > …: relevance at or above θ_l is above rung l.
    pub thresholds: Vec<f64>,
    /// α_l, one per threshold.
    pub margins: Vec<f64>,
    /// β_l, one per threshold; empty: 1 each.
    pub weights: Vec<f64>,
    /// The hardest pair per query and rung, or the mean over all its pairs.
    pub hardest: bool,
    pub similarity: Similarity,
}

impl Default for LadderOptions {
    /// No rungs (an error until the caller gives some), the hardest pair, cosine.
    fn default() -> Self {
        LadderOptions {
            thresholds: Vec::new(),
            margins: Vec::new(),
            weights: Vec::new(),
            hardest: true,
            similarity: Similarity::Cosine,
        }
    }
}

/// Options of `retrieval_metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrievalOptions {
    /// Cut-off of recall@k / precision@k, ≥ 1; clamped to the candidates a query has.
    pub k: usize,
    pub distance: MetricOptions,
}

impl Default for RetrievalOptions {
    fn default() -> Self {
        RetrievalOptions {
            k: DEFAULT_RETRIEVAL_K,
            distance: MetricOptions::default(),
        }
    }
}

/// Options of `sup_con_loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupConOptions {
    /// τ, > 0: similarities are divided by it before the softmax.
    pub temperature: f64,
}

impl Default for SupConOptions {
    fn default() -> Self {
        SupConOptions { temperature: 0.1 }
    }
}
