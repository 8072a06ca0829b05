//! The CPU emulator: the kernels compiled for the host against `kernels/shim.h` (build.rs),
//! behind the same `Gpu` interface as the driver. Memory is host memory; a launch runs the
//! grid's blocks on OS threads and each block's threads as fibers (`kernels/emulator.cpp`).
//!
//! Work is queued as on a GPU's stream, one queue a calling thread, and runs only when that
//! thread reads (`download`, `sync`), or when kept memory is freed (every queue). So an op
//! that read device memory before its work ran, freed a buffer its queued work still uses,
//! or shared memory across threads without a `sync`, computes garbage here and fails its
//! comparison with the cpu, as it would on a GPU. Each queue's work is also checked against
//! the three streams a GPU runs it on (`race.rs`): a use of memory that no wait orders after
//! another stream's use fails the thread's next read.
use crate::gpu::{DevPtr, Gpu, QueueCounts, Ticket};
use crate::order::{Stream, COMPUTE};
use crate::race::{Access, Races};
use crate::sticky::Sticky;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
#[cfg(tk_emulator)]
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use tripletkit_core::Error;

#[cfg(tk_emulator)]
extern "C" {
    fn tk_emu_launch(
        name: *const c_char,
        gx: u32,
        gy: u32,
        gz: u32,
        bx: u32,
        by: u32,
        bz: u32,
        params: *mut *mut c_void,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
}

#[cfg(tk_emulator)]
extern "C" {
    fn tk_emu_bank_ways(pattern: c_int) -> c_int;
}

/// How the tile core's warps touch its shared tiles (`kernels/common.cuh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileAccess {
    /// The `cp.async` stores that fill a stage.
    Fill = 0,
    /// The loads of the m16n8k8 A and B fragments under `'tf32x3'`.
    Tf32A = 1,
    Tf32B = 2,
    /// The float4 loads under `'fp32'`.
    Fp32 = 3,
}

/// The worst count of distinct words one access of a warp puts in one shared-memory bank (1:
/// conflict-free), by the bank model in `kernels/kernels.cpp`, which indexes the tiles with
/// the kernels' own functions; None where the emulator is not built.
pub fn bank_ways(access: TileAccess) -> Option<u32> {
    #[cfg(tk_emulator)]
    {
        // SAFETY: a pure function of its argument.
        let ways = unsafe { tk_emu_bank_ways(access as c_int) };
        u32::try_from(ways).ok()
    }
    #[cfg(not(tk_emulator))]
    {
        let _ = access;
        None
    }
}

/// Device memory is aligned like cudaMalloc's.
const ALIGN: usize = 256;

/// One item of a thread's queue.
enum Work {
    Launch {
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        /// The parameters' 8-byte slots, copied when queued.
        params: Vec<[u8; 8]>,
    },
    /// The bytes to write, copied when queued (as a pinned staging buffer holds them).
    Upload {
        dst: DevPtr,
        bytes: Vec<u8>,
    },
    Fill {
        dst: DevPtr,
        byte: u8,
        bytes: usize,
    },
    Free(DevPtr),
    /// A copy back to the host (`read_later`), kept under its ticket until collected.
    Read {
        id: u64,
        src: DevPtr,
        bytes: usize,
    },
}

/// A thread's queue; its lock is held while its work runs, so that work queued on one
/// thread runs once and in order, whichever thread drains it.
type Queue = Arc<Mutex<Vec<Work>>>;

/// The emulated GPU.
#[derive(Default)]
pub struct Emulator {
    /// The tiles' arithmetic.
    math: crate::math::MathCell,
    /// Live allocations and their layouts.
    live: Mutex<HashMap<DevPtr, Layout>>,
    /// Each calling thread's queued work, and its streams' clocks.
    queues: Mutex<HashMap<ThreadId, Queue>>,
    races: Mutex<HashMap<ThreadId, Races>>,
    /// Bytes uploaded and downloaded so far.
    moved: [AtomicU64; 2],
    /// Kernels launched, waits, and reads.
    counts: Mutex<QueueCounts>,
    /// Reads that have run and wait to be collected, and tickets discarded before they ran.
    landed: Mutex<HashMap<u64, Result<Vec<u8>, String>>>,
    discarded: Mutex<HashSet<u64>>,
    tickets: AtomicU64,
    /// A kernel whose launch fails as an illegal address would on a GPU (a testing aid).
    fault: Option<String>,
    sticky: Sticky,
}

/// The environment variable that names a kernel whose launch the emulator fails with a sticky
/// error, so that tests can see what a broken GPU does to the process.
pub const FAULT_ENV: &str = "TRIPLETKIT_CUDA_EMULATOR_FAULT";

impl Emulator {
    /// The emulator, failing the kernel that `TRIPLETKIT_CUDA_EMULATOR_FAULT` names, if any.
    pub fn new() -> Self {
        Emulator {
            fault: std::env::var(FAULT_ENV).ok().filter(|k| !k.is_empty()),
            ..Emulator::default()
        }
    }

    /// The emulator, failing every launch of `kernel` with a sticky error.
    pub fn with_fault(kernel: &str) -> Self {
        Emulator {
            fault: Some(kernel.to_owned()),
            ..Emulator::default()
        }
    }

    /// Whether this build has the emulator (Linux on x86-64, or with glibc).
    pub fn built() -> bool {
        cfg!(tk_emulator)
    }

    fn queue(&self) -> Queue {
        let mut queues = self.queues.lock().unwrap();
        Arc::clone(queues.entry(std::thread::current().id()).or_default())
    }

    fn push(&self, work: Work) {
        self.queue().lock().unwrap().push(work);
    }

    /// Runs `f` on this thread's stream clocks.
    fn races<R>(&self, f: impl FnOnce(&mut Races) -> R) -> R {
        let mut races = self.races.lock().unwrap();
        f(races.entry(std::thread::current().id()).or_default())
    }

    /// The first race this thread's streams met since the last read, as an error.
    fn race(&self) -> Result<(), Error> {
        match self.races(Races::report) {
            None => Ok(()),
            Some(race) => Err(Error::Internal(format!(
                "the emulator's stream check: {race}"
            ))),
        }
    }

    /// Zeroed host memory standing for `bytes` of device memory.
    fn allocate(&self, bytes: usize) -> Result<DevPtr, Error> {
        self.sticky.check()?;
        let layout =
            Layout::from_size_align(bytes.max(1), ALIGN).map_err(|e| failed(e.to_string()))?;
        // SAFETY: the layout has a non-zero size.
        // Zeroed, so that reading back bytes no kernel wrote is not undefined behaviour here.
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            return Err(Error::OutOfMemory {
                device: "cuda".into(),
                bytes,
            });
        }
        self.live.lock().unwrap().insert(p as DevPtr, layout);
        Ok(p as DevPtr)
    }

    /// Queues the copy of `bytes` bytes at `src` to `dst`.
    ///
    /// # Safety
    /// `src` holds `bytes` readable bytes.
    unsafe fn queue_upload(&self, dst: DevPtr, src: *const u8, bytes: usize) {
        self.moved[0].fetch_add(bytes as u64, Ordering::Relaxed);
        // SAFETY: the caller's promise.
        let bytes = unsafe { std::slice::from_raw_parts(src, bytes) }.to_vec();
        self.push(Work::Upload { dst, bytes });
    }

    /// Runs `queue`'s work in order, all of it or up to the read `until`; returns the launches
    /// left queued after. After a failed launch the rest is skipped but its frees, as a failed
    /// stream's work would be; the first error is returned.
    fn drain(&self, queue: &Queue, until: Option<u64>) -> Result<u64, Error> {
        let mut work = queue.lock().unwrap();
        let end = until
            .and_then(|t| {
                work.iter()
                    .position(|w| matches!(w, Work::Read { id, .. } if *id == t))
            })
            .map_or(work.len(), |at| at + 1);
        let mut first: Result<(), Error> = Ok(());
        for item in work.drain(..end) {
            match (item, &first) {
                (Work::Free(p), _) => self.release(p),
                // A read skipped after a failure reports that failure when collected.
                (Work::Read { id, .. }, Err(e)) => {
                    self.landed.lock().unwrap().insert(id, Err(e.to_string()));
                }
                (_, Err(_)) => {}
                (item, Ok(())) => first = self.run(item),
            }
        }
        let left = work
            .iter()
            .filter(|w| matches!(w, Work::Launch { .. }))
            .count() as u64;
        first.map(|_| left)
    }

    /// Runs one item of a queue.
    fn run(&self, item: Work) -> Result<(), Error> {
        match item {
            Work::Launch {
                name,
                grid,
                block,
                mut params,
            } => {
                self.sticky.check()?;
                if self.fault.as_deref() == Some(name) {
                    return Err(self.sticky.fail(format!(
                        "{name}: CUDA_ERROR_ILLEGAL_ADDRESS (a fault the emulator was asked for, {FAULT_ENV})"
                    )));
                }
                let mut ptrs: Vec<*mut c_void> =
                    params.iter_mut().map(|s| s.as_mut_ptr().cast()).collect();
                // SAFETY: the launch's caller promised these parameters and buffers; the
                // buffers are live, as their frees are queued after this launch.
                unsafe { run(name, grid, block, &mut ptrs) }
            }
            // SAFETY: `dst` held `bytes.len()` bytes when queued, and its free comes later in
            // the queue.
            Work::Upload { dst, bytes } => unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, bytes.len());
                Ok(())
            },
            // SAFETY: as for uploads.
            Work::Fill { dst, byte, bytes } => unsafe {
                std::ptr::write_bytes(dst as *mut u8, byte, bytes);
                Ok(())
            },
            Work::Free(p) => {
                self.release(p);
                Ok(())
            }
            Work::Read { id, src, bytes } => {
                if !self.discarded.lock().unwrap().remove(&id) {
                    // SAFETY: `src` held `bytes` bytes when queued, and its free comes later.
                    let data = unsafe { std::slice::from_raw_parts(src as *const u8, bytes) };
                    self.landed.lock().unwrap().insert(id, Ok(data.to_vec()));
                }
                Ok(())
            }
        }
    }

    /// Returns `p` to the host's allocator.
    fn release(&self, p: DevPtr) {
        if let Some(layout) = self.live.lock().unwrap().remove(&p) {
            // SAFETY: `p` was allocated with `layout` and is removed from `live` once.
            unsafe { dealloc(p as *mut u8, layout) }
        }
    }
}

fn failed(message: String) -> Error {
    Error::DeviceFailed {
        device: "cuda".into(),
        message,
    }
}

impl Gpu for Emulator {
    fn math(&self) -> &crate::math::MathCell {
        &self.math
    }
    fn describe(&self) -> String {
        "CUDA emulator on the CPU (a testing aid: slow)".into()
    }
    /// The emulator runs about a million multiply-adds in a few milliseconds.
    fn chunk_macs(&self) -> usize {
        1 << 22
    }
    fn failure(&self) -> Option<String> {
        self.sticky.reason()
    }
    fn free_memory(&self) -> Result<usize, Error> {
        self.sticky.check()?;
        Ok(tripletkit_core::runtime::budget::available().unwrap_or(usize::MAX) / 2)
    }
    fn alloc(&self, bytes: usize) -> Result<DevPtr, Error> {
        let p = self.allocate(bytes)?;
        self.races(|r| r.alloc(p, bytes, Stream::Compute));
        Ok(p)
    }
    unsafe fn alloc_upload(&self, src: *const u8, bytes: usize) -> Result<DevPtr, Error> {
        let p = self.allocate(bytes)?;
        self.races(|r| {
            r.alloc(p, bytes, Stream::Up);
            let order = r.order().upload(true);
            r.queue(order, &[(p, Access::Write)], "a copy to the device");
        });
        let beside = self
            .queue()
            .lock()
            .unwrap()
            .iter()
            .any(|w| matches!(w, Work::Launch { .. }));
        {
            let mut c = self.counts.lock().unwrap();
            c.uploads += 1;
            c.uploads_beside += u64::from(beside);
        }
        // SAFETY: the caller's promise: `src` holds `bytes` readable bytes.
        unsafe { self.queue_upload(p, src, bytes) };
        Ok(p)
    }
    unsafe fn free(&self, p: DevPtr) {
        self.races(|r| r.free(p));
        let queue = self.queue();
        let mut work = queue.lock().unwrap();
        if work.is_empty() {
            // Nothing queued can still use it.
            drop(work);
            self.release(p);
        } else {
            work.push(Work::Free(p));
        }
    }
    /// Runs every thread's queue first: kept memory may be read by any of them.
    unsafe fn free_kept(&self, p: DevPtr) {
        let queues: Vec<Queue> = self.queues.lock().unwrap().values().cloned().collect();
        for q in &queues {
            // An error stays for that thread to meet; the memory goes either way.
            let _ = self.drain(q, None);
        }
        self.races(|r| r.forget(p));
        self.release(p);
    }
    fn sync(&self) -> Result<(), Error> {
        self.counts.lock().unwrap().waits += 1;
        self.races(Races::synced);
        self.drain(&self.queue(), None)?;
        self.race()
    }
    unsafe fn read_later(&self, src: DevPtr, bytes: usize) -> Result<Ticket, Error> {
        self.sticky.check()?;
        let id = self.tickets.fetch_add(1, Ordering::Relaxed);
        self.races(|r| r.read_later(id, src));
        self.push(Work::Read { id, src, bytes });
        Ok(Ticket { id, src, bytes })
    }
    unsafe fn collect(&self, ticket: Ticket, dst: *mut u8) -> Result<(), Error> {
        self.races(|r| r.collected(ticket.id));
        let left = self.drain(&self.queue(), Some(ticket.id))?;
        self.race()?;
        {
            let mut c = self.counts.lock().unwrap();
            c.waits += 1;
            c.reads += 1;
            c.overlapped += u64::from(left > 0);
        }
        let data = self
            .landed
            .lock()
            .unwrap()
            .remove(&ticket.id)
            .ok_or_else(|| {
                Error::Internal("a read collected on another thread than its own".into())
            })?
            .map_err(failed)?;
        self.moved[1].fetch_add(data.len() as u64, Ordering::Relaxed);
        // SAFETY: the caller's promise: `dst` holds the ticket's bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }
    fn discard(&self, ticket: Ticket) {
        self.races(|r| r.collected(ticket.id));
        if self.landed.lock().unwrap().remove(&ticket.id).is_none() {
            self.discarded.lock().unwrap().insert(ticket.id);
        }
    }
    fn queue_counts(&self) -> Option<QueueCounts> {
        Some(*self.counts.lock().unwrap())
    }
    fn traffic(&self) -> Option<[u64; 2]> {
        Some(self.moved.each_ref().map(|m| m.load(Ordering::Relaxed)))
    }
    unsafe fn upload(&self, dst: DevPtr, src: *const u8, bytes: usize) -> Result<(), Error> {
        self.sticky.check()?;
        self.races(|r| {
            let order = r.order().upload(false);
            r.queue(order, &[(dst, Access::Write)], "a copy to the device");
        });
        // SAFETY: the caller's promise: `src` holds `bytes` readable bytes.
        unsafe { self.queue_upload(dst, src, bytes) };
        Ok(())
    }
    unsafe fn download(&self, dst: *mut u8, src: DevPtr, bytes: usize) -> Result<(), Error> {
        self.sync()?;
        self.moved[1].fetch_add(bytes as u64, Ordering::Relaxed);
        // SAFETY: the caller's promise: both hold `bytes` bytes; host buffers do not overlap
        // device ones.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst, bytes) };
        Ok(())
    }
    unsafe fn fill(&self, dst: DevPtr, byte: u8, bytes: usize) -> Result<(), Error> {
        self.sticky.check()?;
        self.races(|r| r.queue(COMPUTE, &[(dst, Access::Write)], "a fill"));
        self.push(Work::Fill { dst, byte, bytes });
        Ok(())
    }
    unsafe fn launch(
        &self,
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), Error> {
        self.sticky.check()?;
        // SAFETY: the caller's promise: each parameter starts 8 readable bytes.
        let params: Vec<[u8; 8]> = params
            .iter()
            .map(|&p| unsafe { *p.cast::<[u8; 8]>() })
            .collect();
        // Every parameter that points into device memory may be written.
        let uses: Vec<(DevPtr, Access)> = params
            .iter()
            .map(|s| (u64::from_ne_bytes(*s), Access::Write))
            .collect();
        self.races(|r| r.queue(COMPUTE, &uses, name));
        self.counts.lock().unwrap().launches += 1;
        self.push(Work::Launch {
            name,
            grid,
            block,
            params,
        });
        Ok(())
    }
}

/// Runs kernel `name` through the emulator's scheduler.
///
/// # Safety
/// As `Gpu::launch`.
#[cfg(tk_emulator)]
unsafe fn run(
    name: &str,
    grid: [u32; 3],
    block: [u32; 3],
    params: &mut [*mut c_void],
) -> Result<(), Error> {
    let cname = CString::new(name).map_err(|e| failed(e.to_string()))?;
    let mut message = [0 as c_char; 512];
    // SAFETY: the caller's promise covers `params`; `cname` and `message` outlive the call,
    // and the emulator writes at most `message.len()` bytes, NUL-terminated.
    let rc = unsafe {
        tk_emu_launch(
            cname.as_ptr(),
            grid[0],
            grid[1],
            grid[2],
            block[0],
            block[1],
            block[2],
            params.as_mut_ptr(),
            message.as_mut_ptr(),
            message.len(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // SAFETY: the emulator NUL-terminated the message.
    let text = unsafe { CStr::from_ptr(message.as_ptr()) };
    Err(failed(text.to_string_lossy().into_owned()))
}

#[cfg(not(tk_emulator))]
unsafe fn run(_: &str, _: [u32; 3], _: [u32; 3], _: &mut [*mut c_void]) -> Result<(), Error> {
    Err(failed(
        "the CUDA emulator is not built for this platform".into(),
    ))
}
