//! tripletkit-core: the CPU kernels of tripletkit and the meaning of every op.
//!
//! Pure Rust, no napi and no CUDA. Every op takes row-major `f32` matrices (`MatRef`) and
//! returns owned vectors, so a binding can hand them to JavaScript without copying.
//! Distances go through a real GEMM (`gemm` crate) and are folded tile by tile into per-row
//! state, so no op but `pairwise_distances` allocates rows × cols.

mod error;
mod matrix;
mod metric;
mod pair;
mod stop;
mod term;

pub mod device;
pub mod distance;
pub mod knn;
pub mod loss;
pub mod margin_loss;
pub mod mining;
pub mod retrieval;
pub mod select;

pub use error::Error;
pub use matrix::MatRef;
pub use metric::Metric;
pub use stop::Stop;

pub use device::{Cpu, Device, MarginLossOptions};
pub use distance::pairwise_distances;
pub use knn::{knn, Knn};
pub use loss::{triplet_loss, LossOptions, LossResult, Mining, Reduction};
pub use margin_loss::{triplet_margin_loss, MarginLossResult, MarginReduction};
pub use mining::{mine_triplets, Strategy, Triplets};
pub use retrieval::{retrieval_metrics, Retrieval};

/// Threads the CPU kernels run on (rayon's global pool).
pub fn threads() -> usize {
    rayon::current_num_threads()
}
