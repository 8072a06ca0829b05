//! What each op returns to JavaScript, made from core's result without a copy (vectors become
//! typed arrays; counts become numbers).
use crate::arrays::Array;
use napi_derive::napi;
use tripletkit_core as core;

/// A count as a JS number (exact below 2^53).
fn number(n: usize) -> f64 {
    n as f64
}

/// Row-major queryRows × k, each row ascending by (distance, index).
#[napi(object, object_from_js = false)]
pub struct KnnResult {
    #[napi(ts_type = "Int32Array")]
    pub indices: Array<i32>,
    #[napi(ts_type = "Float32Array")]
    pub distances: Array<f32>,
}

impl From<core::Knn> for KnnResult {
    fn from(k: core::Knn) -> Self {
        KnnResult {
            indices: Array(k.indices),
            distances: Array(k.distances),
        }
    }
}

/// Mined triplets: triplet t is (anchor[t], positive[t], negative[t]).
#[napi(object, object_from_js = false)]
pub struct MinedTriplets {
    #[napi(ts_type = "Int32Array")]
    pub anchor: Array<i32>,
    #[napi(ts_type = "Int32Array")]
    pub positive: Array<i32>,
    #[napi(ts_type = "Int32Array")]
    pub negative: Array<i32>,
}

impl From<core::Triplets> for MinedTriplets {
    fn from(t: core::Triplets) -> Self {
        MinedTriplets {
            anchor: Array(t.anchor),
            positive: Array(t.positive),
            negative: Array(t.negative),
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct LossResult {
    pub loss: f64,
    /// dLoss/dx, rows × cols.
    #[napi(ts_type = "Float32Array")]
    pub grad: Array<f32>,
    pub triplets: f64,
    pub active: f64,
}

impl From<core::LossResult> for LossResult {
    fn from(r: core::LossResult) -> Self {
        LossResult {
            loss: r.loss,
            grad: Array(r.grad),
            triplets: number(r.triplets),
            active: number(r.active),
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct MarginLossResult {
    pub loss: f64,
    /// Every row's own loss.
    #[napi(ts_type = "Float32Array")]
    pub losses: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_anchor: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_positive: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_negative: Array<f32>,
}

impl From<core::MarginLossResult> for MarginLossResult {
    fn from(r: core::MarginLossResult) -> Self {
        MarginLossResult {
            loss: r.loss,
            losses: Array(r.losses),
            grad_anchor: Array(r.grad_anchor),
            grad_positive: Array(r.grad_positive),
            grad_negative: Array(r.grad_negative),
        }
    }
}

/// Means over the kept queries (those with at least one relevant reference).
#[napi(object, object_from_js = false)]
pub struct RetrievalResult {
    #[napi(js_name = "precisionAt1")]
    pub precision_at_1: f64,
    pub r_precision: f64,
    pub map_at_r: f64,
    pub mrr: f64,
    pub recall_at_k: f64,
    pub precision_at_k: f64,
    pub queries: f64,
}

impl From<core::Retrieval> for RetrievalResult {
    fn from(r: core::Retrieval) -> Self {
        RetrievalResult {
            precision_at_1: r.precision_at_1,
            r_precision: r.r_precision,
            map_at_r: r.map_at_r,
            mrr: r.mrr,
            recall_at_k: r.recall_at_k,
            precision_at_k: r.precision_at_k,
            queries: number(r.queries),
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct RankingResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad_anchors: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_positives: Array<f32>,
    /// Present when negatives were given.
    #[napi(ts_type = "Float32Array")]
    pub grad_negatives: Option<Array<f32>>,
}

impl From<core::RankingResult> for RankingResult {
    fn from(r: core::RankingResult) -> Self {
        RankingResult {
            loss: r.loss,
            grad_anchors: Array(r.grad_anchors),
            grad_positives: Array(r.grad_positives),
            grad_negatives: r.grad_negatives.map(Array),
        }
    }
}

/// Verification metrics of labelled pairs.
#[napi(object, object_from_js = false)]
pub struct VerificationResult {
    pub accuracy: f64,
    pub threshold: f64,
    pub roc_auc: f64,
    pub tar_at_far: f64,
    pub eer: f64,
}

impl From<core::Verification> for VerificationResult {
    fn from(v: core::Verification) -> Self {
        VerificationResult {
            accuracy: v.accuracy,
            threshold: v.threshold,
            roc_auc: v.roc_auc,
            tar_at_far: v.tar_at_far,
            eer: v.eer,
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct LadderResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad_queries: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_candidates: Array<f32>,
}

impl From<core::LadderResult> for LadderResult {
    fn from(r: core::LadderResult) -> Self {
        LadderResult {
            loss: r.loss,
            grad_queries: Array(r.grad_queries),
            grad_candidates: Array(r.grad_candidates),
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct SupConResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad: Array<f32>,
    /// Anchors whose loss is > 0: the ones the mean is over.
    pub anchors: u32,
}

impl From<core::SupConResult> for SupConResult {
    fn from(r: core::SupConResult) -> Self {
        SupConResult {
            loss: r.loss,
            grad: Array(r.grad),
            anchors: u32::try_from(r.anchors).unwrap_or(u32::MAX),
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct OasisResult {
    #[napi(ts_type = "Float64Array")]
    pub weights: Array<f64>,
    pub state: u32,
    pub loss_sum: f64,
}

impl From<core::OasisSteps> for OasisResult {
    fn from(r: core::OasisSteps) -> Self {
        OasisResult {
            weights: Array(r.weights),
            state: r.state,
            loss_sum: r.loss_sum,
        }
    }
}
