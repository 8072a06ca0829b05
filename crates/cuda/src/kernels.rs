//! The kernels: the PTX modules compiled from `kernels/*.cu` (by `scripts/cuda-ptx.py`,
//! committed in `ptx/`), the entry points each exports, and the codes the kernels share with
//! the host.
use tripletkit_core::Metric;

pub const DISTANCE_TILE: &str = "tk_distance_tile";
pub const BATCH_HARD: &str = "tk_batch_hard";
pub const TOPK_MERGE: &str = "tk_topk_merge";
pub const SEMIHARD_POSITIVES: &str = "tk_semihard_positives";
pub const SEMIHARD_FUSED: &str = "tk_semihard_fused";
pub const SET_COUNT: &str = "tk_set_count";
pub const SET_FILL: &str = "tk_set_fill";
pub const SET_SAMPLE: &str = "tk_set_sample";
pub const MARGIN_TERMS: &str = "tk_margin_terms";
pub const PAIR_DISTANCES: &str = "tk_pair_distances";
pub const CONTRASTIVE_ROWS: &str = "tk_contrastive_rows";
pub const CONTRASTIVE_GRAD: &str = "tk_contrastive_grad";
pub const COEF_GEMM: &str = "tk_coef_gemm";
pub const SUPCON_ROWS: &str = "tk_supcon_rows";
pub const SUPCON_COEF: &str = "tk_supcon_coef";
pub const RANK_ROWS: &str = "tk_rank_rows";
pub const RANK_COEF: &str = "tk_rank_coef";
pub const LADDER_ROWS: &str = "tk_ladder_rows";

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
    (
        "semihard",
        include_str!("../ptx/semihard.ptx"),
        &[SEMIHARD_POSITIVES, SEMIHARD_FUSED],
    ),
    (
        "set",
        include_str!("../ptx/set.ptx"),
        &[SET_COUNT, SET_FILL, SET_SAMPLE],
    ),
    ("margin", include_str!("../ptx/margin.ptx"), &[MARGIN_TERMS]),
    (
        "verification",
        include_str!("../ptx/verification.ptx"),
        &[PAIR_DISTANCES],
    ),
    (
        "contrastive",
        include_str!("../ptx/contrastive.ptx"),
        &[CONTRASTIVE_ROWS, CONTRASTIVE_GRAD],
    ),
    (
        "backward",
        include_str!("../ptx/backward.ptx"),
        &[COEF_GEMM],
    ),
    (
        "rank",
        include_str!("../ptx/rank.ptx"),
        &[RANK_ROWS, RANK_COEF],
    ),
    ("ladder", include_str!("../ptx/ladder.ptx"), &[LADDER_ROWS]),
    (
        "supcon",
        include_str!("../ptx/supcon.ptx"),
        &[SUPCON_ROWS, SUPCON_COEF],
    ),
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

#[cfg(test)]
mod tests {
    use super::MODULES;
    use std::collections::BTreeSet;

    /// The `.entry` names a PTX text exports.
    fn entries(ptx: &str) -> BTreeSet<String> {
        ptx.lines()
            .filter_map(|l| l.trim().strip_prefix(".visible .entry "))
            .map(|l| l.trim_end_matches('(').to_string())
            .collect()
    }

    /// The driver loads only what MODULES lists: every committed PTX file must be there, with
    /// exactly the kernels it exports; and the emulator's table must name the same kernels.
    #[test]
    fn every_ptx_module_and_kernel_is_loaded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ptx");
        let files: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .into_string()
                    .ok()?
                    .strip_suffix(".ptx")
                    .map(String::from)
            })
            .collect();
        let listed: BTreeSet<String> = MODULES.iter().map(|m| m.0.to_string()).collect();
        assert_eq!(files, listed, "ptx/ files against MODULES");
        let mut all = BTreeSet::new();
        for (module, ptx, kernels) in MODULES {
            let names: BTreeSet<String> = kernels.iter().map(|k| k.to_string()).collect();
            assert_eq!(entries(ptx), names, "module {module}");
            all.extend(names);
        }
        let table = include_str!("../kernels/kernels.cpp");
        let emulated: BTreeSet<String> = table
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("TK_ENTRY(")?
                    .strip_suffix("),")
                    .map(String::from)
            })
            .collect();
        assert_eq!(emulated, all, "the emulator's kernels against the modules'");
    }
}
