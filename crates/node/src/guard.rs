//! The one place where failures become JS errors, and where panics stop.
//!
//! Every export runs its `*_impl` through [`guard`]: a panic in the core (a bug)
//! must reject or throw, never abort Node. `Task::compute` has no catch_unwind of its own.
use napi::{Error, Result, Status};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;
use tripletkit_core::{Cpu, Device, Error as CoreError, MatRef, Stop};

/// Runs `f`, turning a panic into `Error("tripletkit internal error: <message>")`.
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // AssertUnwindSafe: the closure only reads its inputs and builds fresh outputs, so nothing
    // half-updated survives the unwind.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(Error::from_reason(format!(
            "tripletkit internal error: {}",
            panic_message(&*payload)
        )))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic with a non-string payload"
    }
}

/// The device that runs every op, stopping early when `stop` is raised. Only the CPU for now:
/// a CUDA backend implements the same `Device` trait and is chosen here per call.
pub fn device(stop: Stop<'_>) -> Box<dyn Device + '_> {
    Box::new(Cpu { stop })
}

/// Core error → JS error. The TS layer turns the "TooManyTriplets: " prefix into a RangeError.
pub fn core_err(e: CoreError) -> Error {
    match e {
        CoreError::TooManyTriplets { .. } => Error::from_reason(format!("TooManyTriplets: {e}")),
        CoreError::Cancelled => Error::from_reason(format!("Cancelled: {e}")),
        CoreError::Invalid(msg) => Error::new(Status::InvalidArg, msg),
    }
}

/// Parses an option string ('euclidean', 'batch-hard', 'mean', …) with the core's `FromStr`.
pub fn parse<T: FromStr<Err = CoreError>>(s: &str) -> Result<T> {
    s.parse().map_err(core_err)
}

/// Wraps `data` as a `rows × cols` matrix; a length mismatch is an error, never an OOB read.
pub fn mat(data: &[f32], rows: u32, cols: u32) -> Result<MatRef<'_>> {
    MatRef::new(data, rows as usize, cols as usize).map_err(core_err)
}

/// An argument error of the binding's own (the core trusts its callers on these).
pub fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

/// Checks that `labels` has one entry per row.
pub fn check_labels(name: &str, labels: &[i32], rows: u32) -> Result<()> {
    if labels.len() != rows as usize {
        return Err(invalid(format!(
            "{name} has {} values, expected {rows}",
            labels.len()
        )));
    }
    Ok(())
}
