//! The conformance harness: checks that any `Device` follows tripletkit's rules, by op family.
//! Each check panics on its first failure, so a device runs them from its own `#[test]`s.
//! This crate is for tests only (it is not part of the shipped library): its own tests run
//! every check on the `Cpu` device, against cases worked out by hand and float64 definitions,
//! and on the CUDA kernels through the emulator, against those and against the `Cpu`.

pub mod agreement;
pub mod cancellation;
mod common;
pub mod distances;
pub mod losses;
pub mod metrics;
pub mod miners;
pub mod rules;

pub use agreement::{agrees_with, Tolerance};
pub use common::lcg;

/// Every check of the harness that needs no second device: hand-worked cases of every family,
/// gradients, the argument rules and cancellation.
pub fn all(dev: &dyn tripletkit_core::Device) {
    miners::hand_worked(dev);
    losses::hand_worked(dev);
    distances::hand_worked(dev);
    metrics::hand_worked(dev);
    losses::gradients(dev);
    losses::pair_loss_gradients(dev);
    losses::range(dev);
    losses::sup_con(dev);
    rules::rules(dev);
    cancellation::cancellation(dev);
}
