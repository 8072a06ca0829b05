//! The cpu device against every check of the harness, and against itself bit for bit.
use tripletkit_conformance as conformance;
use tripletkit_core::Cpu;

#[test]
fn miners() {
    conformance::miners::hand_worked(&Cpu);
}

#[test]
fn losses() {
    conformance::losses::hand_worked(&Cpu);
    conformance::losses::gradients(&Cpu);
    conformance::losses::pair_loss_gradients(&Cpu);
    conformance::losses::range(&Cpu);
    conformance::losses::sup_con(&Cpu);
}

#[test]
fn distances_and_metrics() {
    conformance::distances::hand_worked(&Cpu);
    conformance::metrics::hand_worked(&Cpu);
}

#[test]
fn rules() {
    conformance::rules::rules(&Cpu);
}

#[test]
fn cancellation() {
    conformance::cancellation::cancellation(&Cpu);
}

#[test]
fn agrees_with_itself_bit_for_bit() {
    // Same input, same device: the same output (docs/SEMANTICS.md), so a zero tolerance.
    let exact = conformance::Tolerance { rel: 0.0, abs: 0.0 };
    conformance::agrees_with(&Cpu, &Cpu, exact);
}
