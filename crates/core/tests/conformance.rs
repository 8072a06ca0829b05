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
fn cpu_pair_loss_gradients() {
    conformance::pair_loss_gradients(&Cpu);
}

#[test]
fn cpu_rules() {
    conformance::rules(&Cpu);
}

#[test]
fn cpu_cancellation() {
    conformance::cancellation(&Cpu);
}

#[test]
fn cpu_agrees_with_itself_bit_for_bit() {
    // Same input, same device: the same output (docs/SEMANTICS.md), so a zero tolerance.
    let exact = conformance::Tolerance { rel: 0.0, abs: 0.0 };
    conformance::agrees_with(&Cpu, &Cpu, exact);
}
