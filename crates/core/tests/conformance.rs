//! The CPU device against every conformance check of the crate (the checks any device runs).
use tripletkit_core::{conformance, Cpu};

#[test]
fn cpu_hand_worked() {
    conformance::hand_worked(&Cpu);
}

#[test]
fn cpu_gradients() {
    conformance::gradients(&Cpu);
}

#[test]
fn cpu_rules() {
    conformance::rules(&Cpu);
}

#[test]
fn cpu_cancellation() {
    conformance::cancellation(&Cpu);
}
