//! napi-rs addon of tripletkit: thin glue over `tripletkit-core`, one file per op family.
//!
//! Each op has one private `*_impl` behind a sync export (borrowed typed arrays, zero copy)
//! and an `…Async` export (an `AsyncTask` owning copies of its inputs). Both run under
//! [`guard::guard`], so a panic in the core becomes a JS error instead of an abort.
//!
//! The `impl Task` blocks are deliberately not `#[napi]`: that would also export an empty
//! class per task. The async exports state their `Promise<…>` type with `ts_return_type`.
#![deny(clippy::all)]

mod cancel;
mod distance;
mod guard;
mod knn;
mod loss;
mod margin_loss;
mod mining;
mod retrieval;

use napi_derive::napi;

/// Threads the CPU kernels run on.
#[napi]
pub fn cpu_threads() -> u32 {
    u32::try_from(tripletkit_core::threads()).unwrap_or(u32::MAX)
}
