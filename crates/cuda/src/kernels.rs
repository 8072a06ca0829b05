//! The kernels: the PTX modules compiled from `kernels/*.cu` (by `scripts/cuda-ptx.py`,
//! committed in `ptx/`), the entry points each exports, and the codes the kernels share with
//! the host.
use tripletkit_core::Metric;

pub const DISTANCE_TILE: &str = "tk_distance_tile";
pub const BATCH_HARD: &str = "tk_batch_hard";
pub const TOPK_MERGE: &str = "tk_topk_merge";
pub const SEMIHARD: &str = "tk_semihard";
pub const SET_COUNT: &str = "tk_set_count";
pub const SET_FILL: &str = "tk_set_fill";
pub const MARGIN_TERMS: &str = "tk_margin_terms";
pub const PAIR_DISTANCES: &str = "tk_pair_distances";
pub const CONTRASTIVE_ROWS: &str = "tk_contrastive_rows";
pub const CONTRASTIVE_GRAD: &str = "tk_contrastive_grad";
pub const COEF_GEMM: &str = "tk_coef_gemm";

/// (module, PTX text, kernels) for the driver to load.
pub const MODULES: &[(&str, &str, &[&str])] = &[
    (
        "distance",
        include_str!("../ptx/distance.ptx"),
        &[DISTANCE_TILE],
    ),
    (
        "batch_hard",
        include_str!("../ptx/batch_hard.ptx"),
        &[BATCH_HARD],
    ),
    ("knn", include_str!("../ptx/knn.ptx"), &[TOPK_MERGE]),
    ("semihard", include_str!("../ptx/semihard.ptx"), &[SEMIHARD]),
];

/// Rows (and columns) of one block's tile, and its threads (`kernels/common.cuh`).
pub const TILE: usize = 64;
pub const THREADS: u32 = 256;
/// The largest k of the top-k merge (`kernels/knn.cu`).
pub const KNN_MAX_K: usize = 1024;

/// The metric's code in `kernels/common.cuh`.
pub fn metric_code(m: Metric) -> i32 {
    match m {
        Metric::Euclidean => 0,
        Metric::SqEuclidean => 1,
        Metric::Cosine => 2,
        Metric::Dot => 3,
    }
}
