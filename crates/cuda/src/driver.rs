//! The real GPU, through the CUDA driver API (cudarc, loaded at run time). Kernels come from
//! the cubins committed in `cubin/` on sm_80 and sm_90 GPUs, else from the PTX in `ptx/`,
//! JIT-compiled by the driver for whatever GPU is there (`module.rs`).
//! Copies and launches are synchronous on the default stream: every op waits for its results
//! anyway, and the calling thread makes the context current before each.
use crate::gpu::{DevPtr, Gpu};
use crate::kernels::MODULES;
use crate::sticky::Sticky;
use cudarc::driver::result;
use cudarc::driver::sys;
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use tripletkit_core::Error;

/// One GPU (ordinal 0) with its primary context and loaded kernels.
pub struct Driver {
    ctx: sys::CUcontext,
    name: String,
    capability: (i32, i32),
    functions: HashMap<&'static str, sys::CUfunction>,
    sticky: Sticky,
}

// SAFETY: a CUDA context and the functions loaded in it may be used from any thread once the
// context is made current on that thread, which every method of `Driver` does first.
unsafe impl Send for Driver {}
// SAFETY: as above; the driver API is thread-safe.
unsafe impl Sync for Driver {}

/// The errors after which the context cannot run again (CUDA's "sticky" errors): the
/// process would have to end to use the GPU again.
fn is_sticky(code: sys::CUresult) -> bool {
    use sys::cudaError_enum::*;
    matches!(
        code,
        CUDA_ERROR_ILLEGAL_ADDRESS
            | CUDA_ERROR_LAUNCH_FAILED
            | CUDA_ERROR_MISALIGNED_ADDRESS
            | CUDA_ERROR_INVALID_ADDRESS_SPACE
            | CUDA_ERROR_INVALID_PC
            | CUDA_ERROR_HARDWARE_STACK_ERROR
            | CUDA_ERROR_ILLEGAL_INSTRUCTION
            | CUDA_ERROR_ASSERT
            | CUDA_ERROR_ECC_UNCORRECTABLE
            | CUDA_ERROR_LAUNCH_TIMEOUT
            | CUDA_ERROR_CONTEXT_IS_DESTROYED
    )
}

impl Driver {
    /// The first GPU, or why there is none usable. Probes for the driver library first:
    /// cudarc panics on a call when it is missing.
    pub fn open() -> Result<Driver, String> {
        // SAFETY: only tries to load the library by its names.
        if !unsafe { sys::is_culib_present() } {
            return Err("no NVIDIA driver library (libcuda) was found on this machine".into());
        }
        result::init().map_err(|e| format!("the NVIDIA driver did not initialise: {e:?}"))?;
        crate::module::check_driver(crate::module::driver_version()?)?;
        let count = result::device::get_count()
            .map_err(|e| format!("the NVIDIA driver lists no device: {e:?}"))?;
        if count < 1 {
            return Err("the NVIDIA driver found no GPU".into());
        }
        let dev = result::device::get(0).map_err(|e| format!("GPU 0: {e:?}"))?;
        let name = result::device::get_name(dev).unwrap_or_else(|_| "NVIDIA GPU".into());
        // SAFETY: `dev` came from device::get.
        let attr = |a| unsafe { result::device::get_attribute(dev, a) };
        let major = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
            .map_err(|e| format!("GPU 0: {e:?}"))?;
        let minor = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
            .map_err(|e| format!("GPU 0: {e:?}"))?;
        if major < 8 {
            return Err(format!(
                "{name} has compute capability {major}.{minor}; tripletkit's kernels need 8.0 (Ampere) or newer"
            ));
        }
        // SAFETY: `dev` came from device::get; the context is kept for the process's life.
        let ctx = unsafe { result::primary_ctx::retain(dev) }.map_err(|e| format!("{e:?}"))?;
        // SAFETY: `ctx` is a live primary context.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| format!("{e:?}"))?;
        let mut functions = HashMap::new();
        for m in MODULES {
            let module = crate::module::load(m, major, minor)?;
            for &k in m.kernels.iter() {
                let name = CString::new(k).expect("kernel names have no NUL");
                // SAFETY: `module` is a loaded module.
                let f = unsafe { result::module::get_function(module, name) }
                    .map_err(|e| format!("kernel {k}: {e:?}"))?;
                functions.insert(k, f);
            }
        }
        Ok(Driver {
            ctx,
            name,
            capability: (major, minor),
            functions,
            sticky: Sticky::default(),
        })
    }

    /// Makes the context current on this thread, unless the device has failed for good.
    fn current(&self) -> Result<(), Error> {
        self.sticky.check()?;
        // SAFETY: `self.ctx` is a live primary context.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| self.failed("set context", e))
    }

    /// The error of a failed driver call; a sticky one also ends the device's use.
    fn failed(&self, what: &str, e: result::DriverError) -> Error {
        let message = format!("{what}: {e:?}");
        if is_sticky(e.0) {
            self.sticky.fail(message)
        } else {
            Error::DeviceFailed {
                device: "cuda".into(),
                message,
            }
        }
    }
}

impl Gpu for Driver {
    fn failure(&self) -> Option<String> {
        self.sticky.reason()
    }
    fn describe(&self) -> String {
        let free = self.free_memory().unwrap_or(0) as f64 / (1u64 << 30) as f64;
        format!(
            "{} (compute capability {}.{}, {free:.1} GiB free)",
            self.name, self.capability.0, self.capability.1
        )
    }
    /// About a millisecond of a large GPU's FP32 throughput.
    fn chunk_macs(&self) -> usize {
        1 << 33
    }
    fn free_memory(&self) -> Result<usize, Error> {
        self.current()?;
        result::mem_get_info()
            .map(|(free, _)| free)
            .map_err(|e| self.failed("memory info", e))
    }
    fn alloc(&self, bytes: usize) -> Result<DevPtr, Error> {
        self.current()?;
        // SAFETY: a plain allocation of a non-zero size.
        unsafe { result::malloc_sync(bytes.max(1)) }.map_err(|e| {
            if e.0 == sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY {
                Error::OutOfMemory {
                    device: "cuda".into(),
                    bytes,
                }
            } else {
                self.failed("allocate", e)
            }
        })
    }
    unsafe fn free(&self, p: DevPtr) {
        if self.current().is_ok() {
            // SAFETY: the caller's promise: `p` came from `alloc`, freed once.
            let _ = unsafe { result::free_sync(p) };
        }
    }
    unsafe fn upload(&self, dst: DevPtr, src: *const u8, bytes: usize) -> Result<(), Error> {
        self.current()?;
        // SAFETY: the caller's promise: `src` holds `bytes` readable bytes.
        let src = unsafe { std::slice::from_raw_parts(src, bytes) };
        // SAFETY: `dst` holds `bytes` bytes of device memory; the copy is synchronous.
        unsafe { result::memcpy_htod_sync(dst, src) }.map_err(|e| self.failed("copy to the GPU", e))
    }
    unsafe fn download(&self, dst: *mut u8, src: DevPtr, bytes: usize) -> Result<(), Error> {
        self.current()?;
        // SAFETY: the caller's promise: `dst` holds `bytes` writable bytes.
        let dst = unsafe { std::slice::from_raw_parts_mut(dst, bytes) };
        // SAFETY: `src` holds `bytes` bytes of device memory; the copy is synchronous.
        unsafe { result::memcpy_dtoh_sync(dst, src) }
            .map_err(|e| self.failed("copy from the GPU", e))
    }
    unsafe fn fill(&self, dst: DevPtr, byte: u8, bytes: usize) -> Result<(), Error> {
        self.current()?;
        // SAFETY: `dst` holds `bytes` bytes of device memory.
        unsafe { result::memset_d8_sync(dst, byte, bytes) }.map_err(|e| self.failed("fill", e))
    }
    unsafe fn launch(
        &self,
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), Error> {
        self.current()?;
        let f = *self
            .functions
            .get(name)
            .ok_or_else(|| Error::Internal(format!("no kernel named {name}")))?;
        // SAFETY: the caller's promise covers `params` and the buffers; the null stream is
        // the context's default stream.
        unsafe {
            result::launch_kernel(
                f,
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                0,
                std::ptr::null_mut(),
                params,
            )
        }
        .map_err(|e| self.failed(name, e))?;
        result::ctx::synchronize().map_err(|e| self.failed(name, e))
    }
}
