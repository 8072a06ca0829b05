//! The options objects of the binding: every field optional (API.md's defaults apply), each
//! turned into the core's options struct, whose parsing and rules are the core's.
use napi_derive::napi;
use tripletkit_core as core;
use tripletkit_core::Error as CoreError;

/// How distances are measured, and where.
#[napi(object)]
#[derive(Clone, Default)]
pub struct MetricOptions {
    /// @default 'euclidean'
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    /// L2-normalize every row first (gradients flow through it). @default false
    pub normalize: Option<bool>,
    /// @default 'cpu'
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&MetricOptions> for core::MetricOptions {
    type Error = CoreError;
    fn try_from(o: &MetricOptions) -> Result<Self, CoreError> {
        metric(o.metric.as_deref(), o.normalize)
    }
}

/// The core's metric options from the binding's two fields.
fn metric(name: Option<&str>, normalize: Option<bool>) -> Result<core::MetricOptions, CoreError> {
    Ok(core::MetricOptions {
        metric: name.map(str::parse).transpose()?.unwrap_or_default(),
        normalize: normalize.unwrap_or(false),
    })
}

/// A reduction's name, 'mean' when omitted.
fn reduction(name: Option<&str>) -> Result<core::Reduction, CoreError> {
    Ok(name
        .map(str::parse)
        .transpose()?
        .unwrap_or(core::Reduction::Mean))
}

/// A JS number as a triplet limit: non-negative, +Infinity meaning none.
fn max_triplets(v: Option<f64>) -> Result<usize, CoreError> {
    match v {
        None => Ok(core::MAX_TRIPLETS),
        Some(v) if v.is_nan() || v < 0.0 => Err(CoreError::invalid(
            "maxTriplets",
            format!("expected a non-negative number, received {v}"),
        )),
        // `as` saturates, so +Infinity means "no limit".
        Some(v) => Ok(v as usize),
    }
}

/// Options of one knn search against a prepared corpus.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SearchOptions {
    /// Neighbours per query: 1 ≤ k ≤ corpus rows (− 1 with excludeSelf).
    pub k: u32,
    /// Query i never returns corpus index queryOffset + i. @default false
    pub exclude_self: Option<bool>,
    /// Global index of the first query row, so excludeSelf works on a batch. @default 0
    pub query_offset: Option<u32>,
}

impl From<&SearchOptions> for core::KnnOptions {
    fn from(o: &SearchOptions) -> Self {
        core::KnnOptions {
            k: o.k as usize,
            exclude_self: o.exclude_self.unwrap_or(false),
            query_offset: o.query_offset.unwrap_or(0) as usize,
        }
    }
}

/// Options of mineTriplets.
#[napi(object)]
#[derive(Clone, Default)]
pub struct MineOptions {
    #[napi(
        ts_type = "'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'"
    )]
    pub strategy: String,
    /// Margin α of the set strategies. @default 0.2
    pub margin: Option<f64>,
    /// Fail with ERR_TRIPLETKIT_TOO_MANY_TRIPLETS rather than produce more. @default 2^31 − 1
    pub max_triplets: Option<f64>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&MineOptions> for core::MineOptions {
    type Error = CoreError;
    fn try_from(o: &MineOptions) -> Result<Self, CoreError> {
        Ok(core::MineOptions {
            strategy: o.strategy.parse()?,
            margin: o.margin.unwrap_or(core::DEFAULT_MARGIN),
            distance: metric(o.metric.as_deref(), o.normalize)?,
            max_triplets: max_triplets(o.max_triplets)?,
        })
    }
}

/// Parallel index arrays: triplet t is (anchor[t], positive[t], negative[t]).
#[napi(object)]
pub struct Triplets {
    pub anchor: napi::bindgen_prelude::Int32Array,
    pub positive: napi::bindgen_prelude::Int32Array,
    pub negative: napi::bindgen_prelude::Int32Array,
}

/// Options of tripletLoss.
#[napi(object)]
#[derive(Clone, Default)]
pub struct LossOptions {
    /// Mine with this strategy (default 'batch-hard'), unless triplets are given.
    #[napi(
        ts_type = "'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'"
    )]
    pub strategy: Option<String>,
    /// α. @default 0.2
    pub margin: Option<f64>,
    /// softplus(dap − dan) instead of the hinge. @default false
    pub soft_margin: Option<bool>,
    /// dan := min(d(a,n), d(p,n)). @default false
    pub swap: Option<bool>,
    /// @default 'mean'
    #[napi(ts_type = "'mean' | 'sum' | 'mean-active'")]
    pub reduction: Option<String>,
    /// As MineOptions.maxTriplets. @default 2^31 − 1
    pub max_triplets: Option<f64>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&LossOptions> for core::LossOptions {
    type Error = CoreError;
    fn try_from(o: &LossOptions) -> Result<Self, CoreError> {
        Ok(core::LossOptions {
            margin: o.margin.unwrap_or(core::DEFAULT_MARGIN),
            soft_margin: o.soft_margin.unwrap_or(false),
            swap: o.swap.unwrap_or(false),
            reduction: reduction(o.reduction.as_deref())?,
            distance: metric(o.metric.as_deref(), o.normalize)?,
            max_triplets: max_triplets(o.max_triplets)?,
        })
    }
}

/// Options of tripletMarginLoss.
#[napi(object)]
#[derive(Clone, Default)]
pub struct MarginLossOptions {
    /// α. @default 0.2
    pub margin: Option<f64>,
    /// softplus(dap − dan) instead of the hinge. @default false
    pub soft_margin: Option<bool>,
    /// dan := min(d(a,n), d(p,n)). @default false
    pub swap: Option<bool>,
    /// @default 'mean'
    #[napi(ts_type = "'mean' | 'sum' | 'none'")]
    pub reduction: Option<String>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&MarginLossOptions> for core::MarginLossOptions {
    type Error = CoreError;
    fn try_from(o: &MarginLossOptions) -> Result<Self, CoreError> {
        Ok(core::MarginLossOptions {
            margin: o.margin.unwrap_or(core::DEFAULT_MARGIN),
            soft_margin: o.soft_margin.unwrap_or(false),
            swap: o.swap.unwrap_or(false),
            reduction: reduction(o.reduction.as_deref())?,
            distance: metric(o.metric.as_deref(), o.normalize)?,
        })
    }
}

/// Options of contrastiveLoss.
#[napi(object)]
#[derive(Clone, Default)]
pub struct ContrastiveOptions {
    /// Positive pairs cost max(0, d − posMargin). @default 0
    pub pos_margin: Option<f64>,
    /// Negative pairs cost max(0, negMargin − d). @default 1
    pub neg_margin: Option<f64>,
    /// Applied to each side on its own. @default 'mean'
    #[napi(ts_type = "'mean' | 'sum' | 'mean-active'")]
    pub reduction: Option<String>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&ContrastiveOptions> for core::ContrastiveOptions {
    type Error = CoreError;
    fn try_from(o: &ContrastiveOptions) -> Result<Self, CoreError> {
        let d = core::ContrastiveOptions::default();
        Ok(core::ContrastiveOptions {
            pos_margin: o.pos_margin.unwrap_or(d.pos_margin),
            neg_margin: o.neg_margin.unwrap_or(d.neg_margin),
            reduction: reduction(o.reduction.as_deref())?,
            distance: metric(o.metric.as_deref(), o.normalize)?,
        })
    }
}

/// Options of supConLoss.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SupConOptions {
    /// τ: cosine similarities are divided by it before the softmax. @default 0.1
    pub temperature: Option<f64>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl From<&SupConOptions> for core::SupConOptions {
    fn from(o: &SupConOptions) -> Self {
        core::SupConOptions {
            temperature: o
                .temperature
                .unwrap_or(core::SupConOptions::default().temperature),
        }
    }
}

/// Options of multipleNegativesRankingLoss.
#[napi(object)]
#[derive(Clone, Default)]
pub struct RankingOptions {
    /// Similarities are multiplied by this before the softmax. @default 20
    pub scale: Option<f64>,
    /// @default 'cosine'
    #[napi(ts_type = "'cosine' | 'dot'")]
    pub similarity: Option<String>,
    /// Also rank the anchors for each positive, and average the two. @default false
    pub symmetric: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&RankingOptions> for core::RankingOptions {
    type Error = CoreError;
    fn try_from(o: &RankingOptions) -> Result<Self, CoreError> {
        let d = core::RankingOptions::default();
        Ok(core::RankingOptions {
            scale: o.scale.unwrap_or(d.scale),
            similarity: o
                .similarity
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            symmetric: o.symmetric.unwrap_or(d.symmetric),
        })
    }
}

/// Options of verificationMetrics.
#[napi(object)]
#[derive(Clone, Default)]
pub struct VerificationOptions {
    /// The false-accept rate of tarAtFar, from 0 to 1. @default 0.001
    pub far: Option<f64>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&VerificationOptions> for core::VerificationOptions {
    type Error = CoreError;
    fn try_from(o: &VerificationOptions) -> Result<Self, CoreError> {
        Ok(core::VerificationOptions {
            far: o.far.unwrap_or(core::VerificationOptions::default().far),
            distance: metric(o.metric.as_deref(), o.normalize)?,
        })
    }
}

/// Options of ladderLoss: the rungs of the ladder.
#[napi(object)]
#[derive(Clone, Default)]
pub struct LadderOptions {
    /// θ₁ > θ₂ > …
    pub thresholds: Vec<f64>,
    /// α_l, one per threshold.
    pub margins: Vec<f64>,
    /// β_l, one per threshold. @default 1 each
    pub weights: Option<Vec<f64>>,
    /// The hardest pair per query and rung, else the mean over all pairs. @default true
    pub hardest: Option<bool>,
    /// @default 'cosine'
    #[napi(ts_type = "'cosine' | 'dot'")]
    pub similarity: Option<String>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&LadderOptions> for core::LadderOptions {
    type Error = CoreError;
    fn try_from(o: &LadderOptions) -> Result<Self, CoreError> {
        Ok(core::LadderOptions {
            thresholds: o.thresholds.clone(),
            margins: o.margins.clone(),
            weights: o.weights.clone().unwrap_or_default(),
            hardest: o.hardest.unwrap_or(true),
            similarity: o
                .similarity
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// Options of retrievalMetrics.
#[napi(object)]
#[derive(Clone, Default)]
pub struct RetrievalOptions {
    /// Cut-off of recallAtK / precisionAtK (clamped to the candidates a query has). @default 10
    pub k: Option<u32>,
    #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
    pub metric: Option<String>,
    pub normalize: Option<bool>,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
    /// The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of
    /// what is free.
    pub max_memory: Option<f64>,
}

impl TryFrom<&RetrievalOptions> for core::RetrievalOptions {
    type Error = CoreError;
    fn try_from(o: &RetrievalOptions) -> Result<Self, CoreError> {
        Ok(core::RetrievalOptions {
            k: o.k.map_or(core::DEFAULT_RETRIEVAL_K, |k| k as usize),
            distance: metric(o.metric.as_deref(), o.normalize)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_the_api_defaults() {
        let m = core::MetricOptions::try_from(&MetricOptions::default()).unwrap();
        assert_eq!(m, core::MetricOptions::default());
        let l = core::LossOptions::try_from(&LossOptions::default()).unwrap();
        assert_eq!(l, core::LossOptions::default());
        let ml = core::MarginLossOptions::try_from(&MarginLossOptions::default()).unwrap();
        assert_eq!(ml, core::MarginLossOptions::default());
        let r = core::RetrievalOptions::try_from(&RetrievalOptions::default()).unwrap();
        assert_eq!(r, core::RetrievalOptions::default());
        let mine = MineOptions {
            strategy: "batch-hard".into(),
            ..MineOptions::default()
        };
        assert_eq!(
            core::MineOptions::try_from(&mine).unwrap(),
            core::MineOptions::default()
        );
        let s = core::KnnOptions::from(&SearchOptions {
            k: 3,
            ..SearchOptions::default()
        });
        assert_eq!((s.k, s.exclude_self, s.query_offset), (3, false, 0));
    }

    #[test]
    fn given_fields_are_parsed_by_the_core() {
        let o = LossOptions {
            reduction: Some("mean-active".into()),
            metric: Some("cosine".into()),
            normalize: Some(true),
            margin: Some(0.5),
            max_triplets: Some(f64::INFINITY),
            ..LossOptions::default()
        };
        let l = core::LossOptions::try_from(&o).unwrap();
        assert_eq!(l.reduction, core::Reduction::MeanActive);
        assert_eq!(l.distance.metric, core::Metric::Cosine);
        assert!(l.distance.normalize && l.margin == 0.5 && l.max_triplets == usize::MAX);
    }

    #[test]
    fn bad_strings_and_numbers_are_invalid_arguments() {
        let bad_metric = MetricOptions {
            metric: Some("manhattan".into()),
            ..MetricOptions::default()
        };
        let e = core::MetricOptions::try_from(&bad_metric).unwrap_err();
        assert!(e.to_string().starts_with("metric: expected"), "{e}");
        let bad_strategy = MineOptions {
            strategy: "hardest".into(),
            ..MineOptions::default()
        };
        let e = core::MineOptions::try_from(&bad_strategy).unwrap_err();
        assert!(e.to_string().starts_with("strategy: expected"), "{e}");
        for v in [f64::NAN, -1.0] {
            let o = LossOptions {
                max_triplets: Some(v),
                ..LossOptions::default()
            };
            let e = core::LossOptions::try_from(&o).unwrap_err();
            assert_eq!(e.code(), "ERR_TRIPLETKIT_INVALID_ARGUMENT");
        }
    }
}
