//! The one place where failures become JS errors, and where panics stop.
//!
//! Every export runs its op through [`guard`]: a panic in the core (a bug) must reject or
//! throw, never abort Node; `Task::compute` has no catch_unwind of its own. Each error leaves
//! with the core's stable code as `err.code` (`ERR_TRIPLETKIT_…`).
use napi::bindgen_prelude::JsError;
use napi::{Env, Error};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tripletkit_core::Error as CoreError;

/// A failure on its way to JavaScript: a code and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// The error a sync export throws: its `code` property is the failure's code.
    pub fn into_napi(self) -> Error<Code> {
        Error::new(self.code, self.message)
    }

    /// The same error as a JS value held by a status-typed `napi::Error`, for the rejection
    /// of an async task (whose signature allows only napi's own statuses).
    pub fn into_rejection(self, env: Env) -> Error {
        let value = JsError::from(self.into_napi()).into_unknown(env);
        Error::from(value)
    }
}

/// The status of a sync export's error: its `code` (exports return `napi::Result<T, Code>`,
/// spelled out so that napi's macro sees a fallible export).
pub type Code = &'static str;

/// Runs `f`, turning a panic into a `Failure` coded `ERR_TRIPLETKIT_INTERNAL`.
pub fn guard<T>(f: impl FnOnce() -> Result<T, CoreError>) -> Result<T, Failure> {
    // AssertUnwindSafe: the closure only reads its inputs and builds fresh outputs, so nothing
    // half-updated survives the unwind.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(Failure::from),
        Err(payload) => Err(CoreError::Internal(panic_message(&*payload).to_owned()).into()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_failure() {
        let f = guard::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(f.code, "ERR_TRIPLETKIT_INTERNAL");
        assert_eq!(f.message, "tripletkit internal error: boom");
        let f = guard::<()>(|| panic!("{}", String::from("owned"))).unwrap_err();
        assert_eq!(f.message, "tripletkit internal error: owned");
    }

    #[test]
    fn core_errors_keep_their_code_and_message() {
        let cases = [
            (
                CoreError::invalid("k", "expected 1"),
                "ERR_TRIPLETKIT_INVALID_ARGUMENT",
            ),
            (
                CoreError::TooManyTriplets { limit: 3 },
                "ERR_TRIPLETKIT_TOO_MANY_TRIPLETS",
            ),
            (CoreError::Cancelled, "ERR_TRIPLETKIT_CANCELLED"),
            (
                CoreError::DeviceUnavailable {
                    device: "cuda".into(),
                    reason: "no driver".into(),
                },
                "ERR_TRIPLETKIT_DEVICE_UNAVAILABLE",
            ),
            (
                CoreError::DeviceFailed {
                    device: "cuda".into(),
                    message: "launch".into(),
                },
                "ERR_TRIPLETKIT_DEVICE_FAILED",
            ),
            (
                CoreError::OutOfMemory {
                    device: "cuda".into(),
                    bytes: 1 << 30,
                },
                "ERR_TRIPLETKIT_OUT_OF_MEMORY",
            ),
            (
                CoreError::Internal("state".into()),
                "ERR_TRIPLETKIT_INTERNAL",
            ),
        ];
        for (e, code) in cases {
            let msg = e.to_string();
            let f = guard::<()>(|| Err(e)).unwrap_err();
            assert_eq!((f.code, f.message.as_str()), (code, msg.as_str()));
            let n = f.into_napi();
            assert_eq!((n.status, n.reason.as_str()), (code, msg.as_str()));
        }
    }
}
