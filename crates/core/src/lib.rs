//! tripletkit-core: the CPU kernels of tripletkit and the meaning of every op.
//!
//! Pure Rust, no napi and no CUDA. Every op takes row-major `f32` matrices (`MatRef`), an
//! options struct and a per-call context (`Call`: stop flag, progress), checks its own rules,
//! and returns owned vectors, so a binding can hand them to JavaScript without copying.
//! Distances go through a GEMM of our own (`dot_tile`: each product summed in one fixed order,
//! so a distance depends on its two rows alone) and are folded tile by tile into per-row
//! state, so no op but `pairwise_distances` allocates rows × cols.
//!
//! Two levels (docs/ARCHITECTURE.md): a device implements the primitives of `Device` (distance
//! tiles with a fold, backward products, per-row and per-pair terms), and every op is written
//! once above them (`Ops`, one blanket impl), so the rules and the composition of an op are the
//! same on every device. `Cpu` is the device of this crate; the conformance harness
//! (crates/conformance) checks any device against these rules.

mod call;
mod error;
mod matrix;
mod metric;
mod options;
mod par;
mod reduce;
mod semihard;
#[macro_use]
mod simd;

pub mod backward;
pub mod budget;
pub mod contrastive;
mod cpu;
pub mod device;
pub mod distance;
pub mod dot_tile;
pub mod grad;
pub mod knn;
pub mod ladder;
pub mod loss;
pub mod margin_loss;
pub mod mining;
pub mod oasis;
pub mod ops;
pub mod pair;
pub mod plan;
pub mod ranking;
pub mod retrieval;
pub mod rules;
pub mod select;
pub mod term;
pub mod verification;

#[cfg(test)]
mod testing;

pub use call::{Call, ProgressFn, Stop};
pub use error::{code, Error, Result};
pub use matrix::MatRef;
pub use metric::{Metric, Similarity};
pub use options::{
    ContrastiveOptions, KnnOptions, LadderOptions, LossOptions, MarginLossOptions, MetricOptions,
    MineOptions, RankingOptions, RetrievalOptions, VerificationOptions, DEFAULT_MARGIN,
    DEFAULT_RETRIEVAL_K, MAX_TRIPLETS,
};
pub use reduce::Reduction;

pub use backward::{pairwise_backward, PairwiseGrads};
pub use contrastive::contrastive_loss;
pub use device::{Batch, Corpus, Cpu, Device, Hinge, HingeSide, Op, Terms};
pub use distance::{pairwise_distances, Rows};
pub use knn::{knn, knn_once, Knn};
pub use ladder::{ladder_loss, LadderResult};
pub use loss::{triplet_loss, LossResult, Mining};
pub use margin_loss::{triplet_margin_loss, MarginLossResult};
pub use mining::{mine_triplets, Strategy, Triplets};
pub use oasis::{oasis_steps, OasisOptions, OasisSteps};
pub use ops::Ops;
pub use ranking::{multiple_negatives_ranking_loss, RankingResult};
pub use retrieval::{retrieval_metrics, Retrieval};
pub use verification::{verification_metrics, Verification};

/// Threads the CPU kernels run on (rayon's global pool).
pub fn threads() -> usize {
    rayon::current_num_threads()
}
