//! What every op runs on: the per-call context (`call`), the host memory budget (`budget`),
//! chunk planning for a device's budget (`plan`), parallelism (`par`) and SIMD dispatch
//! (`simd`).
pub mod budget;
pub(crate) mod call;
pub(crate) mod par;
pub mod plan;
#[macro_use]
pub(crate) mod simd;
