//! napi-rs addon of tripletkit: thin glue over `tripletkit-core`, one file per op.
//!
//! Each op is a struct of its inputs implementing [`task::Op`]; a sync export runs it on the
//! JS thread over borrowed typed arrays (zero copy) and an `…Async` export runs an owned copy
//! on a thread of its own (`task::spawn`), which shutdown never waits for. Devices come from one registry, created once per process
//! (`registry`), named per call by the `device` option. Every failure leaves through
//! `errors` with a stable `err.code`, and a panic becomes an error instead of an abort.
//!
//! A new op is: its core function over the device primitives, its `Ops` method, and here an
//! input struct with `Op` and two exports (docs/ARCHITECTURE.md).
#![deny(clippy::all)]
// `--features noop` (cargo test) compiles the glue without napi's registration.
#![cfg_attr(feature = "noop", allow(dead_code, unused_imports))]

mod arrays;
mod budget;
mod contrastive;
mod errors;
mod knn;
mod ladder;
mod loss;
mod margin_loss;
mod mining;
#[cfg(all(test, feature = "noop"))]
mod napi_stubs;
mod oasis;
mod options;
mod pairwise;
mod ranking;
mod registry;
mod retrieval;
mod supcon;
mod task;
mod verification;
