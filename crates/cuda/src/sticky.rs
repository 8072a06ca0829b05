//! The failure that ends a GPU's use in this process. After a sticky error (an illegal
//! address, a failed launch, an uncorrectable ECC error) a CUDA context cannot run anything
//! again, and every later call would fail in its own confusing way: the device keeps the first
//! failure and refuses every later call with it, and `backends()` and 'auto' stop choosing it.
use std::sync::OnceLock;
use tripletkit_core::Error;

/// A device's first sticky failure, once it has had one.
#[derive(Default)]
pub struct Sticky(OnceLock<String>);

impl Sticky {
    /// Ok while the device has not failed; else the refusal every later call gets.
    pub fn check(&self) -> Result<(), Error> {
        match self.0.get() {
            None => Ok(()),
            Some(reason) => Err(Error::DeviceFailed {
                device: "cuda".into(),
                message: format!(
                    "the GPU failed earlier in this process and cannot run again ({reason})"
                ),
            }),
        }
    }

    /// Records `reason` as the device's failure (the first one stays) and returns its error.
    pub fn fail(&self, reason: String) -> Error {
        let _ = self.0.set(reason.clone());
        Error::DeviceFailed {
            device: "cuda".into(),
            message: reason,
        }
    }

    /// The failure, once there is one.
    pub fn reason(&self) -> Option<String> {
        self.0.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_stays_and_refuses_every_later_call() {
        let s = Sticky::default();
        assert!(s.check().is_ok() && s.reason().is_none());
        let e = s.fail("tk_distance_tile: an illegal address".into());
        assert_eq!(e.code(), "ERR_TRIPLETKIT_DEVICE_FAILED");
        s.fail("another".into());
        assert_eq!(
            s.reason().as_deref(),
            Some("tk_distance_tile: an illegal address")
        );
        let later = s.check().unwrap_err().to_string();
        assert!(
            later.contains("failed earlier") && later.contains("illegal address"),
            "{later}"
        );
    }
}
