//! napi-rs addon of tripletkit: thin glue over `tripletkit-core`, written from two tables.
//!
//! `exports.rs` is the table of ops: each row gives an op's arguments, its options and its
//! result, and `glue::exports!` writes its two exports. The sync export runs on the JS thread
//! over borrowed typed arrays (zero copy); the `…Async` export runs an owned copy on a thread
//! of its own (`task::spawn`), which shutdown never waits for. `options.rs` is the table of
//! options structs, each converted into core's, whose defaults and rules apply.
//!
//! Devices come from one registry, created once per process (`registry`), named per call by
//! the `device` option. Every failure leaves through
//! `errors` with a stable `err.code`, and a panic becomes an error instead of an abort.
//!
//! A new op is: its core function over the device primitives, its `Ops` method, and here a
//! row of each table and its result struct (docs/ARCHITECTURE.md).
#![deny(clippy::all)]
// `--features noop` (cargo test) compiles the glue without napi's registration.
#![cfg_attr(feature = "noop", allow(dead_code, unused_imports))]

mod arrays;
mod budget;
mod errors;
mod exports;
mod glue;
mod knn;
#[cfg(all(test, feature = "noop"))]
mod napi_stubs;
mod options;
mod registry;
mod results;
mod task;
