//! The devices, created once per process and kept: a GPU device holds a context, a stream
//! and loaded kernels, so it must not be made per call. `backends()` reports what the native
//! side can run, and why not where it cannot.
use napi_derive::napi;
use std::sync::OnceLock;
use tripletkit_core::{Cpu, Device, Error as CoreError, Op};
use tripletkit_cuda::math::Math;
use tripletkit_cuda::Cuda;

/// The environment variable that runs `device: 'cuda'` through the CPU emulator.
pub const EMULATOR_ENV: &str = "TRIPLETKIT_CUDA_EMULATOR";

static CPU: Cpu = Cpu;

/// The environment variable that sets the CUDA device's tile arithmetic when it opens
/// ('fp32', the default, or 'tf32x3'); `setCudaMath` changes it later.
pub const MATH_ENV: &str = "TRIPLETKIT_CUDA_MATH";

/// The CUDA device (the first GPU, or the emulator when `TRIPLETKIT_CUDA_EMULATOR=1`), or why
/// there is none; opened on first use, so CPU-only work never touches the driver.
fn cuda() -> &'static Result<Cuda, String> {
    static CUDA: OnceLock<Result<Cuda, String>> = OnceLock::new();
    CUDA.get_or_init(|| {
        let math = match std::env::var(MATH_ENV) {
            Ok(name) if !name.is_empty() => Math::parse(&name).ok_or_else(|| {
                format!("{MATH_ENV} must be 'fp32' or 'tf32x3', received '{name}'")
            })?,
            _ => Math::Fp32,
        };
        if std::env::var(EMULATOR_ENV).is_ok_and(|v| v == "1") {
            return if tripletkit_cuda::emulator::Emulator::built() {
                Ok(Cuda::emulated().with_math(math))
            } else {
                Err(format!(
                    "{EMULATOR_ENV}=1 asks for the CUDA emulator, which this platform's build does not have"
                ))
            };
        }
        // A driver that misbehaves must cost the CUDA device, not the process.
        std::panic::catch_unwind(Cuda::open)
            .unwrap_or_else(|_| Err("the NVIDIA driver failed while being probed".to_owned()))
            .map(|d| d.with_math(math))
    })
}

/// Sets the arithmetic of the CUDA device's distance tiles, 'fp32' or 'tf32x3', for the calls
/// that start after it; nothing to do where the CUDA device is unavailable.
#[napi]
pub fn set_cuda_math(math: String) -> napi::Result<()> {
    let m = Math::parse(&math).ok_or_else(|| {
        napi::Error::new(
            napi::Status::InvalidArg,
            format!("math: expected 'fp32' or 'tf32x3', received '{math}'"),
        )
    })?;
    if let Ok(d) = cuda() {
        d.set_math(m);
    }
    Ok(())
}

/// The CUDA device's tile arithmetic ('fp32' or 'tf32x3'), or null where it is unavailable.
#[napi]
pub fn cuda_math() -> Option<String> {
    cuda().as_ref().ok().map(|d| d.math().name().to_owned())
}

/// The device named `name` ('cpu' when omitted), or why it cannot run.
pub fn device(name: Option<&str>) -> Result<&'static dyn Device, CoreError> {
    match name.unwrap_or("cpu") {
        "cpu" => Ok(&CPU),
        "cuda" => match cuda() {
            Ok(d) => Ok(d),
            Err(reason) => Err(CoreError::DeviceUnavailable {
                device: "cuda".to_owned(),
                reason: reason.clone(),
            }),
        },
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
    /// The hardware's name (a GPU's model, compute capability and free memory), when available.
    pub device: Option<String>,
    /// Threads the kernels run on (the CPU).
    pub threads: Option<u32>,
    /// Whether the device is the CPU emulator of the CUDA kernels (a testing aid).
    pub emulated: Option<bool>,
    /// The ops that run on this device, by their JavaScript names; absent when it runs every
    /// op.
    pub ops: Option<Vec<String>>,
    /// The most neighbours a knn search takes on this device; absent when it takes any.
    pub max_k: Option<u32>,
    /// Bytes copied to the device and back so far, where the device counts them (the
    /// emulator).
    pub copied: Option<Copied>,
    /// Bytes that prepared corpora keep on the device between searches now.
    pub kept_bytes: Option<f64>,
}

/// Bytes copied each way between the host and a device.
#[napi(object, object_from_js = false)]
pub struct Copied {
    pub to_device: f64,
    pub from_device: f64,
}

/// What the native side can run.
#[napi(object, object_from_js = false)]
pub struct BackendsReport {
    pub cpu: DeviceReport,
    pub cuda: DeviceReport,
}

/// Why the CUDA device can no longer run in this process (a sticky error ended its use), or
/// null while it can (or was never opened).
#[napi]
pub fn cuda_failure() -> Option<String> {
    match cuda() {
        Ok(d) => d.failure(),
        Err(_) => None,
    }
}

/// Reports every native device: available, or the reason it is not.
#[napi]
pub fn backends() -> BackendsReport {
    BackendsReport {
        cpu: DeviceReport {
            available: true,
            reason: None,
            device: None,
            threads: Some(u32::try_from(tripletkit_core::threads()).unwrap_or(u32::MAX)),
            emulated: None,
            ops: None,
            max_k: None,
            copied: None,
            kept_bytes: None,
        },
        cuda: match cuda() {
            Ok(d) if d.failure().is_some() => DeviceReport {
                available: false,
                reason: d.failure().map(|f| {
                    format!("the GPU failed earlier in this process and cannot run again ({f})")
                }),
                device: None,
                threads: None,
                emulated: Some(d.is_emulated()),
                ops: None,
                max_k: None,
                copied: None,
                kept_bytes: None,
            },
            Ok(d) => DeviceReport {
                available: true,
                reason: None,
                device: Some(d.describe()),
                threads: None,
                emulated: Some(d.is_emulated()),
                ops: Some(
                    Op::ALL
                        .iter()
                        .filter(|&&op| d.supports(op))
                        .map(|op| op.name().to_owned())
                        .collect(),
                ),
                max_k: d.max_k().map(|k| u32::try_from(k).unwrap_or(u32::MAX)),
                copied: d.traffic().map(|[up, down]| Copied {
                    to_device: up as f64,
                    from_device: down as f64,
                }),
                kept_bytes: Some(d.kept_bytes() as f64),
            },
            Err(reason) => DeviceReport {
                available: false,
                reason: Some(reason.clone()),
                device: None,
                threads: None,
                emulated: None,
                ops: None,
                max_k: None,
                copied: None,
                kept_bytes: None,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_there_and_cuda_says_why_not_without_a_gpu() {
        assert_eq!(device(None).unwrap().name(), "cpu");
        assert_eq!(device(Some("cpu")).unwrap().name(), "cpu");
        // No GPU where the tests run (and no emulator asked for): a reason, never a panic.
        if std::env::var(EMULATOR_ENV).is_err() && !std::path::Path::new("/dev/nvidia0").exists() {
            let err = device(Some("cuda")).err().unwrap();
            assert_eq!(err.code(), "ERR_TRIPLETKIT_DEVICE_UNAVAILABLE");
            assert!(err
                .to_string()
                .starts_with("device 'cuda' is not available: "));
            let b = backends();
            assert!(!b.cuda.available && b.cuda.reason.is_some());
        }
        assert_eq!(
            device(Some("tpu")).err().unwrap().code(),
            "ERR_TRIPLETKIT_INVALID_ARGUMENT"
        );
        let b = backends();
        assert!(b.cpu.available && b.cpu.threads.unwrap() >= 1);
    }
}
