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

mod cpu;
pub mod device;
pub mod distances;
mod error;
pub mod losses;
mod matrix;
pub mod metrics;
pub mod miners;
pub mod ops;
mod options;
pub mod rules;
#[macro_use]
pub mod runtime;

#[cfg(test)]
mod testing;

pub use device::{
    Batch, Corpus, Cpu, Device, Hinge, HingeSide, Op, RowTerms, RowWeights, Searched, Terms,
};
pub use error::{code, Error, Result};
pub use matrix::{all_finite, MatRef};
pub use ops::Ops;
pub use options::{
    ContrastiveOptions, KnnOptions, LadderOptions, LossOptions, MarginLossOptions, MetricOptions,
    MineOptions, RankingOptions, RetrievalOptions, Sample, SupConOptions, VerificationOptions,
    DEFAULT_MARGIN, DEFAULT_RETRIEVAL_K, MAX_TRIPLETS,
};
pub use runtime::call::{Call, ProgressFn, Stop};

pub use distances::backward::{pairwise_backward, PairwiseGrads};
pub use distances::knn::{knn, knn_once, Knn};
pub use distances::metric::{Metric, Similarity};
pub use distances::{pairwise_distances, Rows};
pub use losses::contrastive::contrastive_loss;
pub use losses::ladder::{ladder_loss, LadderResult};
pub use losses::margin::{triplet_margin_loss, MarginLossResult};
pub use losses::oasis::{oasis_steps, OasisOptions, OasisSteps};
pub use losses::ranking::{multiple_negatives_ranking_loss, RankingResult};
pub use losses::reduce::Reduction;
pub use losses::supcon::{sup_con_loss, SupConResult};
pub use losses::triplet::{triplet_loss, LossResult, Mining};
pub use metrics::retrieval::{retrieval_metrics, Retrieval};
pub use metrics::verification::{verification_metrics, Verification};
pub use miners::{mine_triplets, Strategy, Triplets};

/// Threads the CPU kernels run on (rayon's global pool).
pub fn threads() -> usize {
    rayon::current_num_threads()
}
