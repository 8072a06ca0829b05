//! A thread's lane to the GPU: three streams of its own (`order.rs` says which work runs on
//! which, and what it waits for), on which the thread's copies, fills, launches and frees run
//! without the host waiting, and pinned memory that its copies go through.
//!
//! - A copy to the device runs on the lane's Up stream as soon as its bytes are in staging, so
//!   the caller's memory may be reused at once, and a fresh buffer's copy runs while earlier
//!   kernels do. Staging is two halves: the host writes one while the device still reads the
//!   other.
//! - A read queued for later (`read_later`) runs on the Down stream beside later kernels. It
//!   lands in pinned memory of its own, with an event that `collect` waits for alone.
//!
//! Node runs each call on one thread, so a lane is a call's streams. Threads come and go (an
//! async call may have a thread of its own), so a lane outlives its thread: when the thread
//! ends, its lane waits for its work and goes back to a process-wide pool, from which the next
//! new thread takes it. Lanes are never freed: pinning and unpinning host memory would make
//! the device wait for every stream.
use crate::order::{Order, Stream, Streams, STREAMS};
use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Bytes of each half of a lane's staging memory.
const HALF: usize = 4 << 20;

/// Landings a lane keeps for later reads once they are collected, and the largest it keeps:
/// pinned memory is the host's, held for the process's life.
const SPARE_LANDINGS: usize = 8;
const LARGEST_SPARE: usize = 64 << 20;

/// Tickets of reads, unique in the process: a ticket taken to another lane finds nothing.
static TICKETS: AtomicU64 = AtomicU64::new(1);

/// An event the host waits for by sleeping, not by spinning a core.
fn event() -> Result<sys::CUevent, DriverError> {
    let mut e = std::mem::MaybeUninit::uninit();
    let flags = sys::CUevent_flags::CU_EVENT_BLOCKING_SYNC as u32
        | sys::CUevent_flags::CU_EVENT_DISABLE_TIMING as u32;
    // SAFETY: `e` receives the event.
    unsafe {
        sys::cuEventCreate(e.as_mut_ptr(), flags).result()?;
        Ok(e.assume_init())
    }
}

/// Pinned host memory with an event recorded after the copies that use it.
struct Pinned {
    host: *mut u8,
    cap: usize,
    done: sys::CUevent,
}

impl Pinned {
    fn new(cap: usize) -> Result<Pinned, DriverError> {
        let done = event()?;
        // SAFETY: a plain pinned allocation, kept for the process's life.
        match unsafe { result::malloc_host(cap, 0) } {
            Ok(host) => Ok(Pinned {
                host: host.cast(),
                cap,
                done,
            }),
            Err(e) => {
                // SAFETY: `done` was just made and is used nowhere else.
                let _ = unsafe { result::event::destroy(done) };
                Err(e)
            }
        }
    }

    /// Waits until the copies recorded against this memory have run (at once if none was).
    fn wait(&self) -> Result<(), DriverError> {
        // SAFETY: `done` is this memory's event.
        unsafe { result::event::synchronize(self.done) }
    }
}

pub struct Lane {
    /// Compute, Up and Down (`order::Stream`), and an event of each that the others wait for.
    streams: [sys::CUstream; STREAMS],
    marks: [sys::CUevent; STREAMS],
    order: Streams,
    /// The staging halves, and `used` bytes of the current one (`at`) queued from, by Up;
    /// None where pinned memory could not be had: copies then go from pageable memory.
    halves: Option<[Pinned; 2]>,
    at: usize,
    used: usize,
    /// Reads queued for later, by ticket, and landings free for the next.
    landing: HashMap<u64, (Pinned, usize)>,
    spare: Vec<Pinned>,
}

// SAFETY: a lane is used by one thread at a time (its thread's, or the pool's while idle); its
// streams, events and pinned memory belong to the process's one context.
unsafe impl Send for Lane {}

/// Lanes of threads that have ended, idle.
static IDLE: Mutex<Vec<Lane>> = Mutex::new(Vec::new());

/// This thread's lane; it goes back to `IDLE` when the thread ends.
struct Held(Option<Lane>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut lane) = self.0.take() {
            // Only a lane whose work has run is handed on; after a device failure it is left.
            if lane.sync().is_ok() {
                let uncollected: Vec<u64> = lane.landing.keys().copied().collect();
                uncollected.into_iter().for_each(|t| lane.discard(t));
                IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(lane);
            }
        }
    }
}

thread_local! {
    static LANE: RefCell<Held> = const { RefCell::new(Held(None)) };
}

/// Runs `f` on this thread's lane: an idle one, or one made now. The context must be current.
/// A thread that is ending (its lane already gone) gets an error, never a panic.
pub fn with<R>(f: impl FnOnce(&mut Lane) -> Result<R, DriverError>) -> Result<R, DriverError> {
    LANE.try_with(|held| {
        let mut held = held.borrow_mut();
        if held.0.is_none() {
            let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
            held.0 = Some(match idle {
                Some(lane) => lane,
                None => Lane::new()?,
            });
        }
        f(held.0.as_mut().expect("set above"))
    })
    .unwrap_or(Err(DriverError(
        sys::cudaError_enum::CUDA_ERROR_DEINITIALIZED,
    )))
}

impl Lane {
    fn new() -> Result<Lane, DriverError> {
        // Non-blocking: the legacy default stream's implicit waits would serialise the lanes.
        let stream = || result::stream::create(result::stream::StreamKind::NonBlocking);
        let streams = [stream()?, stream()?, stream()?];
        let marks = [event()?, event()?, event()?];
        let halves = Pinned::new(HALF).and_then(|a| Ok([a, Pinned::new(HALF)?]));
        Ok(Lane {
            streams,
            marks,
            order: Streams::default(),
            halves: halves.ok(),
            at: 0,
            used: 0,
            landing: HashMap::new(),
            spare: Vec::new(),
        })
    }

    /// The stream that runs launches, fills and allocations.
    pub fn compute(&self) -> sys::CUstream {
        self.streams[Stream::Compute as usize]
    }

    /// Makes `waiter` wait for `on`'s work queued so far.
    fn wait(&mut self, waiter: Stream, on: Stream) -> Result<(), DriverError> {
        let mark = self.marks[on as usize];
        // SAFETY: the event and the streams are this lane's, alive; a wait takes the event's
        // state when queued, so recording it again later is safe.
        unsafe {
            result::event::record(mark, self.streams[on as usize])?;
            result::stream::wait_event(
                self.streams[waiter as usize],
                mark,
                sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT,
            )
        }
    }

    /// The stream an operation of `order` runs on, once it has waited for what the order says.
    fn begin(&mut self, order: Order) -> Result<sys::CUstream, DriverError> {
        for &after in order.after {
            self.wait(order.on, after)?;
        }
        Ok(self.streams[order.on as usize])
    }

    /// Compute's wait for the operation, where the order joins.
    fn end(&mut self, order: Order) -> Result<(), DriverError> {
        if order.join {
            self.wait(Stream::Compute, order.on)?;
        }
        Ok(())
    }

    /// Moves to the other half, once the device is done with what was queued from it.
    fn switch(&mut self) -> Result<(), DriverError> {
        let Some(halves) = self.halves.as_mut() else {
            return Ok(());
        };
        // SAFETY: the event and the stream are this lane's, alive; Up is where every staged
        // copy runs.
        unsafe { result::event::record(halves[self.at].done, self.streams[Stream::Up as usize])? };
        self.at ^= 1;
        halves[self.at].wait()?;
        self.used = 0;
        Ok(())
    }

    /// Queues a copy of `src` to `dst`, on Up. `fresh`: `dst` was allocated for this copy on
    /// Up (`alloc`) and no queued work uses it, so the copy need not wait for Compute.
    ///
    /// # Safety
    /// `dst` holds `src.len()` bytes of device memory that this lane's queued work may write.
    pub unsafe fn upload(
        &mut self,
        dst: sys::CUdeviceptr,
        src: &[u8],
        fresh: bool,
    ) -> Result<(), DriverError> {
        let order = self.order.upload(fresh);
        let up = self.begin(order)?;
        // SAFETY: the caller's promise.
        let copied = unsafe { self.stage(dst, src, up) };
        // Compute waits even for a copy that failed part way: the memory's free is queued
        // there (or after it), and must not run before the pieces already queued.
        let joined = self.end(order);
        copied.and(joined)
    }

    /// Queues the copies of `src` to `dst` on `up`, through the staging halves.
    ///
    /// # Safety
    /// As `upload`.
    unsafe fn stage(
        &mut self,
        dst: sys::CUdeviceptr,
        src: &[u8],
        up: sys::CUstream,
    ) -> Result<(), DriverError> {
        if self.halves.is_none() {
            // From pageable memory the driver stages the bytes before it returns.
            // SAFETY: the caller's promise.
            return unsafe { result::memcpy_htod_async(dst, src, up) };
        }
        let mut done = 0;
        while done < src.len() {
            if self.used == HALF {
                self.switch()?;
            }
            let half = &self.halves.as_ref().expect("checked above")[self.at];
            let n = (HALF - self.used).min(src.len() - done);
            // SAFETY: `host` holds HALF bytes, of which `used..used + n` are free (the device
            // is done with this half since the lane last moved to it).
            let staged = unsafe {
                let at = half.host.add(self.used);
                std::ptr::copy_nonoverlapping(src.as_ptr().add(done), at, n);
                std::slice::from_raw_parts(at, n)
            };
            // SAFETY: the caller's promise covers dst's bytes; `staged` stays untouched until
            // the device has read it (`done` is waited for before the half is written again).
            unsafe { result::memcpy_htod_async(dst + done as u64, staged, up)? };
            self.used += n;
            done += n;
        }
        Ok(())
    }

    /// `bytes` of device memory from `pool`, in `on`'s order. Memory freed on another stream
    /// is `on`'s only once that free has run or `on` waits for it, so short of memory `on`
    /// first waits for the other streams, then the host for every stream, before it gives up.
    ///
    /// # Safety
    /// `pool` is a live memory pool of this lane's context.
    pub unsafe fn alloc(
        &mut self,
        pool: sys::CUmemoryPool,
        bytes: usize,
        on: Stream,
    ) -> Result<sys::CUdeviceptr, DriverError> {
        let stream = self.streams[on as usize];
        // SAFETY: the caller's promise; the stream is this lane's.
        let take = || unsafe { result::mem_pool::alloc_async(pool, bytes, stream) };
        let short = |r: &Result<_, DriverError>| matches!(r, Err(e) if e.0 == sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY);
        let mut got = take();
        if short(&got) {
            for other in [Stream::Compute, Stream::Up, Stream::Down] {
                if other != on {
                    self.wait(on, other)?;
                }
            }
            got = take();
        }
        if short(&got) {
            self.sync()?;
            got = take();
        }
        got
    }

    /// Frees `p` in stream order, after every queued use of it (`order::Streams::free`).
    ///
    /// # Safety
    /// `p` came from a pool on one of this lane's streams and is freed once.
    pub unsafe fn free(&mut self, p: sys::CUdeviceptr) -> Result<(), DriverError> {
        let order = self.order.free();
        let on = self.begin(order)?;
        // SAFETY: the caller's promise; `on` comes after every queued use of `p`.
        unsafe { result::free_async(p, on) }
    }

    /// Waits for this lane's queued work, then copies `len` bytes at `src` into `dst`: through
    /// the two staging halves in turn, the device filling one while the host empties the
    /// other.
    ///
    /// # Safety
    /// `src` holds `len` bytes of device memory; `dst` holds `len` writable bytes.
    pub unsafe fn download(
        &mut self,
        dst: *mut u8,
        src: sys::CUdeviceptr,
        len: usize,
    ) -> Result<(), DriverError> {
        // SAFETY: the caller's promise.
        let read = unsafe { self.download_halves(dst, src, len) };
        // A copy may still be writing a half: the halves are used again only once every copy
        // has run, and never if that cannot be known.
        if read.is_err() && self.sync().is_err() {
            self.halves = None;
        }
        read
    }

    /// `download`'s copies, through the two halves.
    ///
    /// # Safety
    /// As `download`.
    unsafe fn download_halves(
        &mut self,
        dst: *mut u8,
        src: sys::CUdeviceptr,
        len: usize,
    ) -> Result<(), DriverError> {
        self.sync()?;
        let compute = self.compute();
        let Some(halves) = self.halves.as_ref().filter(|_| len > 0) else {
            // SAFETY: the caller's promise; the wait below ends the copy before `dst` is read.
            unsafe { sys::cuMemcpyDtoHAsync_v2(dst.cast(), src, len, compute).result()? };
            return self.sync();
        };
        // Every stream is idle (above), so both halves are free. Piece k goes through half
        // k % 2; piece k + 1 is queued before the host copies piece k out.
        let pieces = len.div_ceil(HALF);
        let queue = |k: usize| -> Result<(), DriverError> {
            let (at, n) = (k * HALF, HALF.min(len - k * HALF));
            let half = &halves[k % 2];
            // SAFETY: the half holds HALF pinned bytes that no queued copy uses (its previous
            // piece was waited for and copied out); the caller's promise covers src's.
            unsafe {
                sys::cuMemcpyDtoHAsync_v2(half.host.cast(), src + at as u64, n, compute)
                    .result()?;
                result::event::record(half.done, compute)
            }
        };
        queue(0)?;
        for k in 0..pieces {
            if k + 1 < pieces {
                queue(k + 1)?;
            }
            let half = &halves[k % 2];
            half.wait()?;
            let (at, n) = (k * HALF, HALF.min(len - k * HALF));
            // SAFETY: the copy into the half has ended (the wait above); `dst` holds `len`
            // bytes (the caller's promise).
            unsafe { std::ptr::copy_nonoverlapping(half.host, dst.add(at), n) };
        }
        Ok(())
    }

    /// Queues a copy of `len` bytes at `src` into a landing of its own; returns its ticket.
    ///
    /// # Safety
    /// `src` holds `len` bytes of device memory.
    pub unsafe fn read_later(
        &mut self,
        src: sys::CUdeviceptr,
        len: usize,
    ) -> Result<u64, DriverError> {
        // The smallest spare that fits, else a new one.
        let fit = (0..self.spare.len())
            .filter(|&i| self.spare[i].cap >= len)
            .min_by_key(|&i| self.spare[i].cap);
        let landing = match fit {
            Some(i) => self.spare.swap_remove(i),
            None => Pinned::new(len.max(4096).next_power_of_two())?,
        };
        let order = self.order.read_later();
        let down = match self.begin(order) {
            Ok(down) => down,
            Err(e) => {
                self.keep(landing);
                return Err(e);
            }
        };
        // SAFETY: the landing holds at least len bytes, free (collected, or new); the caller's
        // promise covers src's.
        let copy = unsafe { sys::cuMemcpyDtoHAsync_v2(landing.host.cast(), src, len, down) };
        if let Err(e) = copy.result() {
            // Nothing was queued into it.
            self.keep(landing);
            return Err(e);
        }
        // SAFETY: the event and the stream are this lane's. If recording fails the copy may
        // still run into the landing, so it is left, never reused.
        unsafe { result::event::record(landing.done, down)? };
        let ticket = TICKETS.fetch_add(1, Ordering::Relaxed);
        self.landing.insert(ticket, (landing, len));
        Ok(ticket)
    }

    /// Waits for the read `ticket` of `len` bytes alone and copies them into `dst`; false when
    /// this lane has no such read.
    ///
    /// # Safety
    /// `dst` holds `len` writable bytes.
    pub unsafe fn collect(
        &mut self,
        ticket: u64,
        dst: *mut u8,
        len: usize,
    ) -> Result<bool, DriverError> {
        match self.landing.get(&ticket) {
            Some((_, n)) if *n == len => {}
            _ => return Ok(false),
        }
        let (landing, len) = self.landing.remove(&ticket).expect("found above");
        // If the wait fails the copy may still run into the landing: it is left, never reused.
        landing.wait()?;
        // SAFETY: the copy into the landing has ended; the caller's promise covers dst.
        unsafe { std::ptr::copy_nonoverlapping(landing.host, dst, len) };
        self.keep(landing);
        Ok(true)
    }

    /// Lets go of a read never collected: its landing is free once its copy has run.
    pub fn discard(&mut self, ticket: u64) {
        if let Some((landing, _)) = self.landing.remove(&ticket) {
            if landing.wait().is_ok() {
                self.keep(landing);
            }
        }
    }

    /// Keeps a free landing for later reads: up to `SPARE_LANDINGS` of them, the largest, none
    /// past `LARGEST_SPARE`. The rest are unpinned (rare: unpinning makes the device wait).
    fn keep(&mut self, landing: Pinned) {
        let gone = if landing.cap > LARGEST_SPARE {
            landing
        } else if self.spare.len() < SPARE_LANDINGS {
            return self.spare.push(landing);
        } else {
            let smallest = (0..self.spare.len())
                .min_by_key(|&i| self.spare[i].cap)
                .expect("the spares are full");
            if landing.cap > self.spare[smallest].cap {
                std::mem::replace(&mut self.spare[smallest], landing)
            } else {
                landing
            }
        };
        // SAFETY: no copy uses it any more (its event was waited for, or nothing was queued).
        unsafe {
            let _ = result::free_host(gone.host.cast());
            let _ = result::event::destroy(gone.done);
        }
    }

    /// Waits for this lane's queued work on every stream; its staging is all free after.
    pub fn sync(&mut self) -> Result<(), DriverError> {
        for &stream in &self.streams {
            // SAFETY: the stream is this lane's, alive.
            unsafe { result::stream::synchronize(stream)? };
        }
        self.used = 0;
        self.order.synced();
        Ok(())
    }
}
