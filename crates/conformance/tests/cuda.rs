//! The CUDA kernels, through the emulator, against every check of the harness and against the
//! cpu device.
use tripletkit_conformance as conformance;
use tripletkit_core::Cpu;
use tripletkit_cuda::emulator::Emulator;
use tripletkit_cuda::Cuda;

/// The emulated device, or None where this platform's build has no emulator.
fn cuda() -> Option<Cuda> {
    Emulator::built().then(Cuda::emulated)
}

#[test]
fn miners() {
    if let Some(d) = cuda() {
        conformance::miners::hand_worked(&d);
    }
}

#[test]
fn losses() {
    if let Some(d) = cuda() {
        conformance::losses::hand_worked(&d);
        conformance::losses::gradients(&d);
        conformance::losses::pair_loss_gradients(&d);
        conformance::losses::range(&d);
        conformance::losses::sup_con(&d);
    }
}

#[test]
fn distances_and_metrics() {
    if let Some(d) = cuda() {
        conformance::distances::hand_worked(&d);
        conformance::metrics::hand_worked(&d);
    }
}

#[test]
fn rules() {
    if let Some(d) = cuda() {
        conformance::rules::rules(&d);
    }
}

#[test]
fn cancellation() {
    if let Some(d) = cuda() {
        conformance::cancellation::cancellation(&d);
    }
}

#[test]
fn agrees_with_cpu() {
    if let Some(d) = cuda() {
        // The GPU sums some products in another order; the float64 recomputations round
        // differently.
        let tol = conformance::Tolerance {
            rel: 2e-5,
            abs: 1e-6,
        };
        conformance::agrees_with(&d, &Cpu, tol);
    }
}
