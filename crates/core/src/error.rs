//! The failures of a core op, each with a stable code that crosses every boundary unchanged
//! (the binding sets it as `err.code`, the TypeScript reference throws the same codes).
use std::fmt;

/// Failures of a core op. Every rule an op has is checked here, in the core, so a Rust
/// caller gets an `Err` rather than a panic or a silently wrong answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// An argument is out of its domain; the message names the argument.
    Invalid(String),
    /// A mining strategy would produce more than `limit` triplets.
    TooManyTriplets { limit: usize },
    /// The caller raised the op's stop flag before it finished.
    Cancelled,
    /// The named device cannot run on this machine (no driver, no such backend in the build).
    DeviceUnavailable { device: String, reason: String },
    /// The device failed while running (a driver or kernel error).
    DeviceFailed { device: String, message: String },
    /// The device could not allocate `bytes` for the work.
    OutOfMemory { device: String, bytes: usize },
    /// `what` needs `bytes`, more than the process's memory budget leaves (`available` now,
    /// of which `reserved` is held by calls in flight); see `budget`.
    OverBudget {
        what: String,
        bytes: usize,
        available: usize,
        reserved: usize,
    },
    /// A bug inside tripletkit (a panic caught at a boundary, a state that cannot happen).
    Internal(String),
}

/// The stable codes of [`Error`], as JavaScript sees them in `err.code`.
pub mod code {
    pub const INVALID_ARGUMENT: &str = "ERR_TRIPLETKIT_INVALID_ARGUMENT";
    pub const TOO_MANY_TRIPLETS: &str = "ERR_TRIPLETKIT_TOO_MANY_TRIPLETS";
    pub const CANCELLED: &str = "ERR_TRIPLETKIT_CANCELLED";
    pub const DEVICE_UNAVAILABLE: &str = "ERR_TRIPLETKIT_DEVICE_UNAVAILABLE";
    pub const DEVICE_FAILED: &str = "ERR_TRIPLETKIT_DEVICE_FAILED";
    pub const OUT_OF_MEMORY: &str = "ERR_TRIPLETKIT_OUT_OF_MEMORY";
    pub const INTERNAL: &str = "ERR_TRIPLETKIT_INTERNAL";
}

impl Error {
    /// `Invalid` with a message of the form "`name`: expected …, received …".
    pub fn invalid(name: &str, what: impl fmt::Display) -> Self {
        Error::Invalid(format!("{name}: {what}"))
    }

    /// The stable code of this error (see [`code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => code::INVALID_ARGUMENT,
            Error::TooManyTriplets { .. } => code::TOO_MANY_TRIPLETS,
            Error::Cancelled => code::CANCELLED,
            Error::DeviceUnavailable { .. } => code::DEVICE_UNAVAILABLE,
            Error::DeviceFailed { .. } => code::DEVICE_FAILED,
            Error::OutOfMemory { .. } | Error::OverBudget { .. } => code::OUT_OF_MEMORY,
            Error::Internal(_) => code::INTERNAL,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(msg) => f.write_str(msg),
            Error::TooManyTriplets { limit } => write!(
                f,
                "mining would produce more than {limit} triplets; mine smaller batches"
            ),
            Error::Cancelled => f.write_str("the operation was cancelled"),
            Error::DeviceUnavailable { device, reason } => {
                write!(f, "device '{device}' is not available: {reason}")
            }
            Error::DeviceFailed { device, message } => {
                write!(f, "device '{device}' failed: {message}")
            }
            Error::OutOfMemory { device, bytes } => write!(
                f,
                "device '{device}' cannot fit this call: it needs at least {:.1} MiB, more than it \
                 may use (its free memory, or the call's maxMemory); use smaller inputs or a \
                 larger maxMemory",
                *bytes as f64 / 1048576.0
            ),
            Error::OverBudget {
                what,
                bytes,
                available,
                reserved,
            } => write!(
                f,
                "{what}: expected at most the {:.1} MiB this process can still allocate \
                 ({:.1} MiB available, {:.1} MiB held by calls in flight), received work \
                 that needs {:.1} MiB; use smaller inputs",
                available.saturating_sub(*reserved) as f64 / 1048576.0,
                *available as f64 / 1048576.0,
                *reserved as f64 / 1048576.0,
                *bytes as f64 / 1048576.0
            ),
            Error::Internal(msg) => write!(f, "tripletkit internal error: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// A core result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
