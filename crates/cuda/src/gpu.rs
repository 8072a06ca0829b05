//! The launcher interface: what the host code of every op needs from a GPU (memory, copies,
//! kernel launches by name), implemented by the real driver (`driver.rs`) and by the CPU
//! emulator (`emulator.rs`). The ops are written once against it, so the launch geometry,
//! chunk planning and result assembly that CI runs through the emulator are the GPU's.
//!
//! Work is asynchronous, as on a CUDA stream: each calling thread has a queue of its own, in
//! which uploads, fills, launches and frees run in order, and the host waits only where it
//! reads (`download`, `sync`). An error of queued work is reported there, where results are
//! read. Memory kept past one call (`alloc_kept`) is for every thread's later work, so it is
//! written with a `sync` before any other thread reads it, and freed after every queue's
//! work (`free_kept`).
use crate::math::MathCell;
use std::ffi::c_void;
use std::marker::PhantomData;
use tripletkit_core::Error;

/// A device address: a `CUdeviceptr` on the GPU, a host address in the emulator.
pub type DevPtr = u64;

pub trait Gpu: Send + Sync {
    /// The hardware, for `backends()`.
    fn describe(&self) -> String;
    /// The arithmetic of the distance tiles' dot products (`math.rs`), which every launch of
    /// a tile kernel passes on.
    fn math(&self) -> &MathCell;
    /// Multiply-adds one chunk of an op should take: chunks are where progress is reported
    /// and a stop honoured, so they should last milliseconds, not seconds.
    fn chunk_macs(&self) -> usize;
    /// Free bytes of device memory now.
    fn free_memory(&self) -> Result<usize, Error>;
    /// `bytes` of device memory (at least 256-byte aligned), uninitialised, for this
    /// thread's queued work (stream-ordered, from a pool).
    fn alloc(&self, bytes: usize) -> Result<DevPtr, Error>;
    /// Frees `p` once this thread's work queued so far is done with it.
    ///
    /// # Safety
    /// `p` came from `alloc` on this thread, is freed once, and no other thread's work uses it.
    unsafe fn free(&self, p: DevPtr);
    /// `bytes` of device memory kept past this call, for any thread's later work.
    fn alloc_kept(&self, bytes: usize) -> Result<DevPtr, Error> {
        self.alloc(bytes)
    }
    /// Frees kept memory once every thread's queued work is done.
    ///
    /// # Safety
    /// `p` came from `alloc_kept` on this device and is freed once.
    unsafe fn free_kept(&self, p: DevPtr) {
        // SAFETY: the caller's promise.
        unsafe { self.free(p) }
    }
    /// Waits until this thread's queued work is done, and reports its first error.
    fn sync(&self) -> Result<(), Error> {
        Ok(())
    }
    /// What the host has queued and waited for so far, where the device counts it (the
    /// emulator does, so tests can hold an op to waiting only where it reads).
    fn queue_counts(&self) -> Option<QueueCounts> {
        None
    }
    /// Queues a copy of `src`, which may be reused as soon as this returns.
    ///
    /// # Safety
    /// `dst` holds `bytes` bytes of this device's memory; `src` holds `bytes` readable bytes.
    unsafe fn upload(&self, dst: DevPtr, src: *const u8, bytes: usize) -> Result<(), Error>;
    /// New memory of `bytes` bytes (as `alloc`) holding a copy of `src`, queued so that it
    /// need not wait for work queued before (nothing else uses the memory yet); `src` may be
    /// reused as soon as this returns.
    ///
    /// # Safety
    /// `src` holds `bytes` readable bytes.
    unsafe fn alloc_upload(&self, src: *const u8, bytes: usize) -> Result<DevPtr, Error> {
        // SAFETY: the caller's promise.
        unsafe { alloc_then_upload(self, src, bytes) }
    }
    /// Queues a copy of `bytes` bytes at `src` back to the host, and returns at once: the
    /// host waits for it only in `collect`, and not for the work queued after it.
    ///
    /// # Safety
    /// `src` holds `bytes` bytes of this device's memory, written by work queued before.
    unsafe fn read_later(&self, src: DevPtr, bytes: usize) -> Result<Ticket, Error> {
        Ok(Ticket { id: 0, src, bytes })
    }
    /// Waits for the copy `ticket` queued (and the work queued before it), then copies its
    /// bytes into `dst`. A ticket is collected on the thread that took it.
    ///
    /// # Safety
    /// `dst` holds `ticket.bytes` writable bytes; `ticket` came from `read_later` here.
    unsafe fn collect(&self, ticket: Ticket, dst: *mut u8) -> Result<(), Error> {
        // SAFETY: the caller's promise; without a queue of its own the device reads now.
        unsafe { self.download(dst, ticket.src, ticket.bytes) }
    }
    /// Lets go of a ticket that will not be collected.
    fn discard(&self, _ticket: Ticket) {}
    /// Waits for this thread's queued work, then copies `src` back.
    ///
    /// # Safety
    /// `src` holds `bytes` bytes of this device's memory; `dst` holds `bytes` writable bytes.
    unsafe fn download(&self, dst: *mut u8, src: DevPtr, bytes: usize) -> Result<(), Error>;
    /// # Safety
    /// `dst` holds `bytes` bytes of this device's memory.
    unsafe fn fill(&self, dst: DevPtr, byte: u8, bytes: usize) -> Result<(), Error>;
    /// Why the device can no longer run, once a sticky error ended its use in this process.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Bytes copied to the device and back so far, where the device counts them (the
    /// emulator does, so tests can hold an op to what it moves).
    fn traffic(&self) -> Option<[u64; 2]> {
        None
    }
    /// Queues kernel `name` over `grid` blocks of `block` threads.
    ///
    /// # Safety
    /// `params` points at one value per kernel parameter, of the parameter's type and size
    /// (device pointers as `DevPtr`), each at the start of 8 readable bytes (`Params`'s
    /// slots: a queue copies them), and every buffer the kernel touches is large enough.
    unsafe fn launch(
        &self,
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), Error>;
}

/// `alloc`, then `upload` into it (freed again if the copy cannot be queued): `alloc_upload`
/// for a device without a stream of its own for copies.
///
/// # Safety
/// `src` holds `bytes` readable bytes.
pub unsafe fn alloc_then_upload<G: Gpu + ?Sized>(
    gpu: &G,
    src: *const u8,
    bytes: usize,
) -> Result<DevPtr, Error> {
    let p = gpu.alloc(bytes)?;
    // SAFETY: `p` holds `bytes` bytes; the caller's promise covers `src`.
    match unsafe { gpu.upload(p, src, bytes) } {
        Ok(()) => Ok(p),
        Err(e) => {
            // SAFETY: `p` came from `alloc` on this thread and nothing uses it.
            unsafe { gpu.free(p) };
            Err(e)
        }
    }
}

/// A copy back to the host queued by `read_later`: the device's handle, and what it copies.
#[derive(Debug)]
pub struct Ticket {
    pub id: u64,
    pub src: DevPtr,
    pub bytes: usize,
}

/// Counts of a device's queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Kernels launched.
    pub launches: u64,
    /// Times a thread waited for its queued work (each read, each `sync`).
    pub waits: u64,
    /// Reads collected (`collect`), and those of them after whose copy launches were still
    /// queued: work the device had to run while the host used what it read.
    pub reads: u64,
    pub overlapped: u64,
    /// Copies into fresh buffers (`alloc_upload`), and those of them queued while launches
    /// were queued before them: copies the device may run beside those kernels.
    pub uploads: u64,
    pub uploads_beside: u64,
}

/// `len` values of `T` in device memory for one call on one thread, freed on drop.
pub struct Buffer<'g, T: Copy> {
    gpu: &'g dyn Gpu,
    ptr: DevPtr,
    len: usize,
    /// Neither Send nor Sync: its memory belongs to this thread's queue (freed there, in order
    /// after the work that uses it).
    _t: PhantomData<(T, *const ())>,
}

impl<'g, T: Copy> Buffer<'g, T> {
    /// Uninitialised memory for `len` values.
    pub fn uninit(gpu: &'g dyn Gpu, len: usize) -> Result<Self, Error> {
        let bytes = len.max(1).checked_mul(size_of::<T>()).ok_or_else(too_big)?;
        Ok(Buffer {
            gpu,
            ptr: gpu.alloc(bytes)?,
            len,
            _t: PhantomData,
        })
    }

    /// `len` values whose every byte is `byte`.
    pub fn filled(gpu: &'g dyn Gpu, len: usize, byte: u8) -> Result<Self, Error> {
        let b = Self::uninit(gpu, len)?;
        // SAFETY: `b` holds len·size_of::<T>() bytes.
        unsafe { gpu.fill(b.ptr, byte, len * size_of::<T>())? };
        Ok(b)
    }

    /// A copy of `src` on the device, queued to run beside work queued before
    /// (`Gpu::alloc_upload`).
    pub fn from_slice(gpu: &'g dyn Gpu, src: &[T]) -> Result<Self, Error> {
        if src.is_empty() {
            return Self::uninit(gpu, 0);
        }
        // SAFETY: `src` holds size_of_val(src) readable bytes.
        let ptr = unsafe { gpu.alloc_upload(src.as_ptr().cast(), size_of_val(src))? };
        Ok(Buffer {
            gpu,
            ptr,
            len: src.len(),
            _t: PhantomData,
        })
    }

    /// Overwrites the first `src.len()` values.
    pub fn write(&mut self, src: &[T]) -> Result<(), Error> {
        assert!(src.len() <= self.len, "write past the buffer");
        // SAFETY: `self` holds at least the bytes of `src` (asserted).
        unsafe {
            self.gpu
                .upload(self.ptr, src.as_ptr().cast(), size_of_val(src))
        }
    }

    /// The values, copied back to the host.
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        let mut out: Vec<T> = Vec::with_capacity(self.len);
        // SAFETY: `out` has room for len values, all written by the download before set_len;
        // T is Copy (plain data: f32, i32, u64).
        unsafe {
            self.gpu
                .download(out.as_mut_ptr().cast(), self.ptr, self.len * size_of::<T>())?;
            out.set_len(self.len);
        }
        Ok(out)
    }

    /// The values, read back once the work queued so far has run, without waiting for work
    /// queued later (`Reading::wait`). The buffer may be dropped before the reading: its free
    /// is queued after the copy.
    pub fn read_later(&self) -> Result<Reading<'g, T>, Error> {
        // SAFETY: `self` holds len values of T.
        let ticket = unsafe { self.gpu.read_later(self.ptr, self.len * size_of::<T>())? };
        Ok(Reading {
            gpu: self.gpu,
            ticket: Some(ticket),
            len: self.len,
            _t: PhantomData,
        })
    }

    /// The first `dst.len()` values, copied into `dst`.
    pub fn download_into(&self, dst: &mut [T]) -> Result<(), Error> {
        assert!(dst.len() <= self.len, "read past the buffer");
        // SAFETY: `self` holds at least the bytes of `dst` (asserted); T is plain data.
        unsafe {
            self.gpu
                .download(dst.as_mut_ptr().cast(), self.ptr, size_of_val(dst))
        }
    }

    pub fn ptr(&self) -> DevPtr {
        self.ptr
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Copy> Drop for Buffer<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc` and this is its only owner.
        unsafe { self.gpu.free(self.ptr) }
    }
}

/// Values on their way back from the device (`Buffer::read_later`).
pub struct Reading<'g, T: Copy> {
    gpu: &'g dyn Gpu,
    ticket: Option<Ticket>,
    len: usize,
    /// Neither Send nor Sync: a read is collected on the thread that queued it.
    _t: PhantomData<(T, *const ())>,
}

impl<T: Copy> Reading<'_, T> {
    /// Waits for the values and returns them.
    pub fn wait(mut self) -> Result<Vec<T>, Error> {
        let ticket = self.ticket.take().expect("a reading is waited for once");
        let mut out: Vec<T> = Vec::with_capacity(self.len);
        // SAFETY: `out` has room for len values, the ticket's bytes, all written by `collect`
        // before set_len; T is plain data.
        unsafe {
            self.gpu.collect(ticket, out.as_mut_ptr().cast())?;
            out.set_len(self.len);
        }
        Ok(out)
    }
}

impl<T: Copy> Drop for Reading<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.gpu.discard(ticket);
        }
    }
}

fn too_big() -> Error {
    Error::Internal("a device buffer's size overflows usize".into())
}

/// The most parameters a kernel takes.
const MAX_PARAMS: usize = 24;

/// A kernel's parameters, in order, each kept alive until the launch: device pointers as
/// `DevPtr`, counts and flags as `int`, margins as `float`, as the `.cu` signatures declare
/// them. Each value sits at the start of an 8-byte slot held inline (no allocation), which
/// is where the launch's parameter array points. Built through `&mut self`: rustc 1.95's
/// release builds miscompiled a by-value builder passed through a closure (the second
/// closure call started from the first one's slots), which `builder_in_a_closure` guards.
pub struct Params {
    slots: [[u8; 8]; MAX_PARAMS],
    len: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            slots: [[0; 8]; MAX_PARAMS],
            len: 0,
        }
    }
}

impl Params {
    pub fn new() -> Self {
        Params::default()
    }
    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        assert!(self.len < MAX_PARAMS, "too many kernel parameters");
        self.slots[self.len][..bytes.len()].copy_from_slice(bytes);
        self.len += 1;
        self
    }
    pub fn ptr(&mut self, p: DevPtr) -> &mut Self {
        self.push(&p.to_ne_bytes())
    }
    pub fn buf<T: Copy>(&mut self, b: &Buffer<'_, T>) -> &mut Self {
        self.ptr(b.ptr())
    }
    /// An `int` parameter; the caller has checked that `v` fits (see `int`).
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.push(&v.to_ne_bytes())
    }
    pub fn float(&mut self, v: f32) -> &mut Self {
        self.push(&v.to_ne_bytes())
    }
    pub fn double(&mut self, v: f64) -> &mut Self {
        self.push(&v.to_ne_bytes())
    }
    /// Parameters so far.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Launches `name` with these parameters.
    ///
    /// # Safety
    /// The parameters match the kernel's signature and the buffers are large enough for
    /// the geometry.
    pub unsafe fn launch(
        &mut self,
        gpu: &dyn Gpu,
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
    ) -> Result<(), Error> {
        let mut ptrs = [std::ptr::null_mut::<c_void>(); MAX_PARAMS];
        for (p, slot) in ptrs.iter_mut().zip(self.slots.iter_mut()) {
            *p = slot.as_mut_ptr().cast();
        }
        // SAFETY: every pointer in `ptrs` points into `self.slots`, alive until we return;
        // the rest is the caller's promise.
        unsafe { gpu.launch(name, grid, block, &mut ptrs[..self.len]) }
    }

    /// Launches `name` with one thread an item over `items` items, in blocks of `THREADS`.
    ///
    /// # Safety
    /// As `launch`.
    pub unsafe fn launch_over(
        &mut self,
        gpu: &dyn Gpu,
        name: &'static str,
        items: usize,
    ) -> Result<(), Error> {
        let threads = crate::kernels::THREADS;
        // SAFETY: the caller's promise.
        unsafe {
            self.launch(
                gpu,
                name,
                [blocks(items, threads as usize), 1, 1],
                [threads, 1, 1],
            )
        }
    }
}

/// `v` as a kernel's `int`, or an error: sizes past 2³¹ − 1 are refused before any launch.
pub fn int(v: usize, what: &str) -> Result<i32, Error> {
    i32::try_from(v).map_err(|_| {
        Error::invalid(
            what,
            format!("expected at most {} on 'cuda', received {v}", i32::MAX),
        )
    })
}

/// Blocks of `per` covering `n`, as a grid dimension.
pub fn blocks(n: usize, per: usize) -> u32 {
    u32::try_from(n.div_ceil(per).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_in_a_closure() {
        let common = |p: &mut Params| {
            p.ptr(1).int(2).ptr(3).int(4).float(0.5);
        };
        let mut a = Params::new();
        common(&mut a);
        a.ptr(9);
        let mut b = Params::new();
        common(&mut b);
        b.ptr(8).ptr(7);
        assert_eq!((a.len(), b.len()), (6, 7));
        assert_eq!(b.slots[5], 8u64.to_ne_bytes());
        assert_eq!(b.slots[1][..4], 2i32.to_ne_bytes());
        assert_eq!(b.slots[4][..4], 0.5f32.to_ne_bytes());
    }
}
