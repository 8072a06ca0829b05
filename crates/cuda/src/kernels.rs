//! The kernels: the PTX modules compiled from `kernels/*.cu` (by `scripts/cuda-ptx.py`,
//! committed in `ptx/`), the entry points each exports, and the codes the kernels share with
//! the host.
use tripletkit_core::Metric;

pub const DISTANCE_TILE: &str = "tk_distance_tile";
pub const DISTANCE_TILE_TF32: &str = "tk_distance_tile_tf32";
pub const BATCH_HARD: &str = "tk_batch_hard";
pub const KNN_TILE: &str = "tk_knn_tile";
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
pub const OASIS_STEPS: &str = "tk_oasis_steps";

/// A module of kernels: its PTX (`ptx/`, for any GPU through the JIT), the cubins ptxas made
/// of it for sm_80 and sm_90 (`cubin/`, `scripts/cuda-cubin.sh`), and the kernels it exports.
pub struct Module {
    pub name: &'static str,
    pub ptx: &'static str,
    pub sm_80: &'static [u8],
    pub sm_90: &'static [u8],
    pub kernels: &'static [&'static str],
}

macro_rules! module {
    ($name:literal, [$($k:expr),* $(,)?]) => {
        Module {
            name: $name,
            ptx: include_str!(concat!("../ptx/", $name, ".ptx")),
            sm_80: include_bytes!(concat!("../cubin/", $name, ".sm_80.cubin")),
            sm_90: include_bytes!(concat!("../cubin/", $name, ".sm_90.cubin")),
            kernels: &[$($k),*],
        }
    };
}

/// The modules the driver loads.
pub const MODULES: &[Module] = &[
    module!("distance", [DISTANCE_TILE, DISTANCE_TILE_TF32]),
    module!("batch_hard", [BATCH_HARD]),
    module!("knn", [KNN_TILE, TOPK_MERGE]),
    module!("semihard", [SEMIHARD_POSITIVES, SEMIHARD_FUSED]),
    module!("set", [SET_COUNT, SET_FILL, SET_SAMPLE]),
    module!("margin", [MARGIN_TERMS]),
    module!("verification", [PAIR_DISTANCES]),
    module!("contrastive", [CONTRASTIVE_ROWS, CONTRASTIVE_GRAD]),
    module!("backward", [COEF_GEMM]),
    module!("rank", [RANK_ROWS, RANK_COEF]),
    module!("ladder", [LADDER_ROWS]),
    module!("supcon", [SUPCON_ROWS, SUPCON_COEF]),
    module!("oasis", [OASIS_STEPS]),
];

/// Rows (and columns) of one block's tile, and its threads (`kernels/common.cuh`).
pub const TILE: usize = 128;
pub const THREADS: u32 = 256;
/// Threads of a warp: the kernels that give a row a warp are launched over rows × WARP threads.
pub const WARP: usize = 32;
/// The largest k of knn's selection (`kernels/knn.cu`).
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
        let listed: BTreeSet<String> = MODULES.iter().map(|m| m.name.to_string()).collect();
        assert_eq!(files, listed, "ptx/ files against MODULES");
        let mut all = BTreeSet::new();
        for m in MODULES {
            let names: BTreeSet<String> = m.kernels.iter().map(|k| k.to_string()).collect();
            assert_eq!(entries(m.ptx), names, "module {}", m.name);
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
