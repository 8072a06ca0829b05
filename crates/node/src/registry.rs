//! The devices, created once per process and kept: a GPU device holds a context, a stream
//! and loaded kernels, so it must not be made per call. `backends()` reports what the native
//! side can run, and why not where it cannot.
use napi_derive::napi;
use std::sync::OnceLock;
use tripletkit_core::{Cpu, Device, Error as CoreError};

/// Why `device: 'cuda'` cannot run in this build.
pub const NO_CUDA: &str = "this build of tripletkit has no CUDA backend";

struct Registry {
    cpu: Cpu,
    /// The CUDA device, or why there is none.
    cuda: Result<Box<dyn Device>, String>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        cpu: Cpu,
        cuda: Err(NO_CUDA.to_owned()),
    })
}

/// The device named `name` ('cpu' when omitted), or why it cannot run.
pub fn device(name: Option<&str>) -> Result<&'static dyn Device, CoreError> {
    let r = registry();
    match name.unwrap_or("cpu") {
        "cpu" => Ok(&r.cpu),
        "cuda" => r
            .cuda
            .as_deref()
            .map_err(|reason| CoreError::DeviceUnavailable {
                device: "cuda".to_owned(),
                reason: reason.clone(),
            }),
        other => Err(CoreError::invalid(
            "device",
            format!("expected 'cpu' or 'cuda', received '{other}'"),
        )),
    }
}

/// Whether a device can run here.
#[napi(object, object_from_js = false)]
pub struct DeviceReport {
    pub available: bool,
    /// Why not, when unavailable.
    pub reason: Option<String>,
    /// The hardware's name (a GPU's model), when available.
    pub device: Option<String>,
    /// Threads the kernels run on (the CPU).
    pub threads: Option<u32>,
}

/// What the native side can run.
#[napi(object, object_from_js = false)]
pub struct BackendsReport {
    pub cpu: DeviceReport,
    pub cuda: DeviceReport,
}

/// Reports every native device: available, or the reason it is not.
#[napi]
pub fn backends() -> BackendsReport {
    let r = registry();
    BackendsReport {
        cpu: DeviceReport {
            available: true,
            reason: None,
            device: None,
            threads: Some(u32::try_from(tripletkit_core::threads()).unwrap_or(u32::MAX)),
        },
        cuda: match &r.cuda {
            Ok(d) => DeviceReport {
                available: true,
                reason: None,
                device: Some(d.describe()),
                threads: None,
            },
            Err(reason) => DeviceReport {
                available: false,
                reason: Some(reason.clone()),
                device: None,
                threads: None,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_there_and_cuda_says_why_not() {
        assert_eq!(device(None).unwrap().name(), "cpu");
        assert_eq!(device(Some("cpu")).unwrap().name(), "cpu");
        let err = device(Some("cuda")).err().unwrap();
        assert_eq!(err.code(), "ERR_TRIPLETKIT_DEVICE_UNAVAILABLE");
        assert_eq!(
            err.to_string(),
            "device 'cuda' is not available: this build of tripletkit has no CUDA backend"
        );
        assert_eq!(
            device(Some("tpu")).err().unwrap().code(),
            "ERR_TRIPLETKIT_INVALID_ARGUMENT"
        );
        let b = backends();
        assert!(b.cpu.available && b.cpu.threads.unwrap() >= 1);
        assert!(!b.cuda.available && b.cuda.reason.as_deref() == Some(NO_CUDA));
    }
}
