//! The real GPU, through the CUDA driver API (cudarc, loaded at run time). Kernels come from
//! the cubins committed in `cubin/` on sm_80 and sm_90 GPUs, else from the PTX in `ptx/`,
//! JIT-compiled by the driver for whatever GPU is there (`module.rs`).
//! Work is asynchronous: each calling thread queues its copies, launches and frees on a
//! stream of its own through pinned staging (`lane.rs`), takes memory from the device's pool
//! in stream order, and waits only where it reads. The calling thread makes the context
//! current before each call.
use crate::gpu::{DevPtr, Gpu, Ticket};
use crate::kernels::MODULES;
use crate::order::Stream;
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
    /// A memory pool of this process's own, kept warm between calls; None where the device has
    /// no pools (memory is then allocated and freed with the host waiting).
    pool: Option<sys::CUmemoryPool>,
    sticky: Sticky,
    math: crate::math::MathCell,
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
            | CUDA_ERROR_NVLINK_UNCORRECTABLE
            | CUDA_ERROR_EXTERNAL_DEVICE
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
        // A host that waits for the GPU sleeps rather than spin a core: Node's threads wait
        // while the event loop and the cpu device work.
        // SAFETY: `dev` came from device::get.
        let _ = unsafe {
            sys::cuDevicePrimaryCtxSetFlags_v2(
                dev,
                sys::CUctx_flags::CU_CTX_SCHED_BLOCKING_SYNC as u32,
            )
        }
        .result();
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
        let pools =
            attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED).unwrap_or(0);
        Ok(Driver {
            ctx,
            name,
            capability: (major, minor),
            functions,
            // SAFETY: `dev` came from device::get.
            pool: (pools != 0).then(|| unsafe { warm_pool(dev) }).flatten(),
            sticky: Sticky::default(),
            math: crate::math::MathCell::default(),
        })
    }

    /// Runs `f` on this thread's lane, the context current.
    fn lane<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut crate::lane::Lane) -> Result<R, result::DriverError>,
    ) -> Result<R, Error> {
        self.current()?;
        crate::lane::with(f).map_err(|e| self.failed(what, e))
    }

    /// Bytes the pool holds and no allocation uses: free for this process's next allocations.
    fn pool_idle(&self) -> usize {
        let Some(pool) = self.pool else { return 0 };
        let read = |a| {
            let mut v: u64 = 0;
            // SAFETY: `pool` is the device's pool; these attributes are cuuint64_t.
            unsafe { result::mem_pool::get_attribute(pool, a, (&mut v as *mut u64).cast()) }
                .map_or(0, |_| v)
        };
        use sys::CUmemPool_attribute::*;
        read(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)
            .saturating_sub(read(CU_MEMPOOL_ATTR_USED_MEM_CURRENT)) as usize
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
    fn math(&self) -> &crate::math::MathCell {
        &self.math
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
            .map(|(free, _)| free + self.pool_idle())
            .map_err(|e| self.failed("memory info", e))
    }
    fn alloc(&self, bytes: usize) -> Result<DevPtr, Error> {
        let Some(pool) = self.pool else {
            return self.alloc_kept(bytes);
        };
        // SAFETY: a stream-ordered allocation on this thread's Compute, from the device's pool.
        self.lane("allocate", |lane| unsafe {
            lane.alloc(pool, bytes.max(1), Stream::Compute)
        })
        .map_err(|e| out_of_memory(e, bytes))
    }
    unsafe fn free(&self, p: DevPtr) {
        if self.pool.is_none() {
            // The host waits for the queued work that may use it.
            let _ = self.sync();
            // SAFETY: the caller's promise; the stream is idle.
            return unsafe { self.free_kept(p) };
        }
        // SAFETY: `p` came from the pool on this thread's streams (the caller's promise), and
        // is freed once their work queued so far is done with it.
        let _ = self.lane("free", |lane| unsafe { lane.free(p) });
    }
    fn alloc_kept(&self, bytes: usize) -> Result<DevPtr, Error> {
        self.current()?;
        // SAFETY: a plain allocation of a non-zero size.
        let plain = || unsafe { result::malloc_sync(bytes.max(1)) };
        let got = plain().or_else(|e| match (e.0, self.pool) {
            // The pool may hold memory no allocation uses: give it back, then try again.
            (sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY, Some(pool)) => {
                // SAFETY: `pool` is the device's pool.
                let _ = unsafe { result::mem_pool::trim_to(pool, 0) };
                plain()
            }
            _ => Err(e),
        });
        got.map_err(|e| self.failed("allocate", e))
            .map_err(|e| out_of_memory(e, bytes))
    }
    unsafe fn free_kept(&self, p: DevPtr) {
        let idle = self.current().and_then(|_| {
            result::ctx::synchronize().map_err(|e| self.failed("wait for the GPU", e))
        });
        if idle.is_ok() {
            // SAFETY: the caller's promise: `p` came from `alloc_kept`, freed once, and every
            // stream's work is done (above).
            let _ = unsafe { result::free_sync(p) };
        }
    }
    fn sync(&self) -> Result<(), Error> {
        self.lane("wait for the GPU", |lane| lane.sync())
    }
    unsafe fn upload(&self, dst: DevPtr, src: *const u8, bytes: usize) -> Result<(), Error> {
        // SAFETY: the caller's promise: `src` holds `bytes` readable bytes.
        let src = unsafe { std::slice::from_raw_parts(src, bytes) };
        // SAFETY: `dst` holds `bytes` bytes of device memory.
        self.lane("copy to the GPU", |lane| unsafe {
            lane.upload(dst, src, false)
        })
    }
    unsafe fn alloc_upload(&self, src: *const u8, bytes: usize) -> Result<DevPtr, Error> {
        let Some(pool) = self.pool else {
            // No stream-ordered memory: allocations and frees wait for the host as it is.
            // SAFETY: the caller's promise.
            return unsafe { crate::gpu::alloc_then_upload(self, src, bytes) };
        };
        // SAFETY: the caller's promise: `src` holds `bytes` readable bytes.
        let src = unsafe { std::slice::from_raw_parts(src, bytes) };
        // SAFETY: `pool` is the device's; the memory is allocated on Up for this copy alone.
        self.lane("copy to the GPU", |lane| unsafe {
            let p = lane.alloc(pool, bytes.max(1), Stream::Up)?;
            match lane.upload(p, src, true) {
                Ok(()) => Ok(p),
                Err(e) => {
                    let _ = lane.free(p);
                    Err(e)
                }
            }
        })
        .map_err(|e| out_of_memory(e, bytes))
    }
    unsafe fn download(&self, dst: *mut u8, src: DevPtr, bytes: usize) -> Result<(), Error> {
        // SAFETY: the caller's promise: `dst` holds `bytes` writable bytes, `src` as many of
        // device memory.
        self.lane("copy from the GPU", |lane| unsafe {
            lane.download(dst, src, bytes)
        })
    }
    unsafe fn read_later(&self, src: DevPtr, bytes: usize) -> Result<Ticket, Error> {
        // SAFETY: the caller's promise: `src` holds `bytes` bytes of device memory.
        let id = self.lane("copy from the GPU", |lane| unsafe {
            lane.read_later(src, bytes)
        })?;
        Ok(Ticket { id, src, bytes })
    }
    unsafe fn collect(&self, ticket: Ticket, dst: *mut u8) -> Result<(), Error> {
        // SAFETY: the caller's promise: `dst` holds the ticket's bytes.
        let found = self.lane("copy from the GPU", |lane| unsafe {
            lane.collect(ticket.id, dst, ticket.bytes)
        })?;
        if found {
            Ok(())
        } else {
            Err(Error::Internal(
                "a read collected on another thread than its own".into(),
            ))
        }
    }
    fn discard(&self, ticket: Ticket) {
        let _ = self.lane("copy from the GPU", |lane| {
            lane.discard(ticket.id);
            Ok(())
        });
    }
    unsafe fn fill(&self, dst: DevPtr, byte: u8, bytes: usize) -> Result<(), Error> {
        // SAFETY: `dst` holds `bytes` bytes of device memory.
        self.lane("fill", |lane| unsafe {
            result::memset_d8_async(dst, byte, bytes, lane.compute())
        })
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
        // SAFETY: the caller's promise covers `params` and the buffers; the stream is this
        // thread's. An error of the kernel itself is met where its results are read.
        self.lane(name, |lane| unsafe {
            result::launch_kernel(
                f,
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                0,
                lane.compute(),
                params,
            )
        })
    }
}

/// An allocation's failure for want of memory as `OutOfMemory`, others as they are.
fn out_of_memory(e: Error, bytes: usize) -> Error {
    match e {
        Error::DeviceFailed { message, .. } if message.contains("CUDA_ERROR_OUT_OF_MEMORY") => {
            Error::OutOfMemory {
                device: "cuda".into(),
                bytes,
            }
        }
        e => e,
    }
}

/// A memory pool of this process's own on `dev` (the device's default pool is left to other
/// libraries as they set it): it keeps what it frees (a release threshold of all memory), so
/// that a call's buffers come from memory the calls before it used, and never makes one
/// thread's stream wait for another's to reuse memory. None if it cannot be made.
///
/// # Safety
/// `dev` came from `device::get`.
unsafe fn warm_pool(dev: sys::CUdevice) -> Option<sys::CUmemoryPool> {
    // SAFETY: all-zero props are valid (no handle types, no limits); the fields that matter
    // are set below.
    let mut props: sys::CUmemPoolProps = unsafe { std::mem::MaybeUninit::zeroed().assume_init() };
    props.allocType = sys::CUmemAllocationType::CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type_ = sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = dev;
    // SAFETY: `props` describes device memory on `dev`.
    let pool = unsafe { result::mem_pool::create(&props) }.ok()?;
    let mut keep_all = u64::MAX;
    let mut no = 0i32;
    use sys::CUmemPool_attribute::*;
    // SAFETY: `pool` was just made; the release threshold is a cuuint64_t, the reuse policy
    // an int.
    let set = unsafe {
        result::mem_pool::set_attribute(
            pool,
            CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut keep_all as *mut u64).cast(),
        )
        .and_then(|_| {
            result::mem_pool::set_attribute(
                pool,
                CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES,
                (&mut no as *mut i32).cast(),
            )
        })
    };
    if set.is_err() {
        // SAFETY: `pool` is unused.
        let _ = unsafe { result::mem_pool::destroy(pool) };
        return None;
    }
    Some(pool)
}
