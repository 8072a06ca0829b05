//! A thread's lane to the GPU: a stream of its own, on which the thread's copies, fills,
//! launches and frees run in order without the host waiting, and pinned staging memory that
//! its copies go through. A copy to the device is queued as soon as its bytes are in staging,
//! so the caller's memory may be reused at once; staging is two halves, and the host writes
//! one while the device still reads the other. Node runs each call on one thread, so a lane is
//! a call's stream.
use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys;
use std::cell::RefCell;

/// Bytes of each half of a lane's staging memory.
const HALF: usize = 4 << 20;

/// Half of the staging memory: `used` bytes from its start are queued copies, and `done` is
/// recorded on the stream when the lane moves on to the other half.
struct Half {
    host: *mut u8,
    used: usize,
    done: sys::CUevent,
}

pub struct Lane {
    pub stream: sys::CUstream,
    /// None where pinned memory could not be had: copies then go from pageable memory.
    halves: Option<[Half; 2]>,
    at: usize,
}

thread_local! {
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's lane, made on first use. The context must be current.
pub fn with<R>(f: impl FnOnce(&mut Lane) -> Result<R, DriverError>) -> Result<R, DriverError> {
    LANE.with(|lane| {
        let mut lane = lane.borrow_mut();
        if lane.is_none() {
            *lane = Some(Lane::new()?);
        }
        f(lane.as_mut().expect("made above"))
    })
}

impl Lane {
    fn new() -> Result<Lane, DriverError> {
        // Non-blocking: the legacy default stream's implicit waits would serialise the lanes.
        let stream = result::stream::create(result::stream::StreamKind::NonBlocking)?;
        Ok(Lane {
            stream,
            halves: Self::staging().ok(),
            at: 0,
        })
    }

    fn staging() -> Result<[Half; 2], DriverError> {
        let half = || -> Result<Half, DriverError> {
            let done = result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)?;
            // SAFETY: a plain pinned allocation, freed in `Drop`.
            let host = match unsafe { result::malloc_host(HALF, 0) } {
                Ok(h) => h.cast(),
                Err(e) => {
                    // SAFETY: `done` was just created and is used nowhere else.
                    let _ = unsafe { result::event::destroy(done) };
                    return Err(e);
                }
            };
            Ok(Half {
                host,
                used: 0,
                done,
            })
        };
        let first = half()?;
        match half() {
            Ok(second) => Ok([first, second]),
            Err(e) => {
                // SAFETY: `first` was just made and is used nowhere else.
                unsafe { free_half(&first) };
                Err(e)
            }
        }
    }

    /// Moves to the other half, once the device is done with what was queued from it.
    fn switch(&mut self) -> Result<(), DriverError> {
        let Some(halves) = self.halves.as_mut() else {
            return Ok(());
        };
        // SAFETY: the event and the stream are this lane's, alive.
        unsafe { result::event::record(halves[self.at].done, self.stream)? };
        self.at ^= 1;
        let next = &mut halves[self.at];
        // SAFETY: as above; an event never recorded is complete at once.
        unsafe { result::event::synchronize(next.done)? };
        next.used = 0;
        Ok(())
    }

    /// Queues a copy of `src` to `dst`.
    ///
    /// # Safety
    /// `dst` holds `src.len()` bytes of device memory that this lane's queued work may write.
    pub unsafe fn upload(&mut self, dst: sys::CUdeviceptr, src: &[u8]) -> Result<(), DriverError> {
        if self.halves.is_none() {
            // From pageable memory the driver stages the bytes before it returns.
            // SAFETY: the caller's promise.
            return unsafe { result::memcpy_htod_async(dst, src, self.stream) };
        }
        let mut done = 0;
        while done < src.len() {
            if self.halves.as_ref().expect("checked above")[self.at].used == HALF {
                self.switch()?;
            }
            let half = &mut self.halves.as_mut().expect("checked above")[self.at];
            let n = (HALF - half.used).min(src.len() - done);
            // SAFETY: `host` holds HALF bytes, of which `used..used + n` are free (the device
            // is done with this half since the lane last moved to it).
            let staged = unsafe {
                let at = half.host.add(half.used);
                std::ptr::copy_nonoverlapping(src.as_ptr().add(done), at, n);
                std::slice::from_raw_parts(at, n)
            };
            // SAFETY: the caller's promise covers dst's bytes; `staged` stays untouched until
            // the device has read it (`done` is waited for before the half is written again).
            unsafe { result::memcpy_htod_async(dst + done as u64, staged, self.stream)? };
            half.used += n;
            done += n;
        }
        Ok(())
    }

    /// Waits for this lane's queued work, then copies `src` back into `dst`.
    ///
    /// # Safety
    /// `src` holds `dst.len()` bytes of device memory.
    pub unsafe fn download(
        &mut self,
        dst: &mut [u8],
        src: sys::CUdeviceptr,
    ) -> Result<(), DriverError> {
        if self.halves.is_none() {
            // SAFETY: the caller's promise; the wait below ends the copy before `dst` is read.
            unsafe { result::memcpy_dtoh_async(dst, src, self.stream)? };
            return self.sync();
        }
        let mut done = 0;
        while done < dst.len() {
            let n = HALF.min(dst.len() - done);
            if HALF - self.halves.as_ref().expect("checked above")[self.at].used < n {
                self.switch()?;
            }
            let half = &self.halves.as_ref().expect("checked above")[self.at];
            // SAFETY: `used..used + n` of the half is free (as in `upload`).
            let at = unsafe { half.host.add(half.used) };
            // SAFETY: `at` holds n free bytes of the half.
            let staged = unsafe { std::slice::from_raw_parts_mut(at, n) };
            // SAFETY: the caller's promise covers src's bytes.
            unsafe { result::memcpy_dtoh_async(staged, src + done as u64, self.stream)? };
            self.sync()?;
            // SAFETY: the copy has ended (the wait above), and nothing else uses `at` before
            // this lane queues again.
            unsafe { std::ptr::copy_nonoverlapping(at, dst.as_mut_ptr().add(done), n) };
            done += n;
        }
        Ok(())
    }

    /// Waits for this lane's queued work; its staging is all free after.
    pub fn sync(&mut self) -> Result<(), DriverError> {
        // SAFETY: the stream is this lane's, alive.
        unsafe { result::stream::synchronize(self.stream)? };
        if let Some(halves) = self.halves.as_mut() {
            halves.iter_mut().for_each(|h| h.used = 0);
        }
        Ok(())
    }
}

/// # Safety
/// `half` was made by `Lane::staging` and the device no longer reads it.
unsafe fn free_half(half: &Half) {
    // SAFETY: the caller's promise. Errors are ignored: this runs as a thread ends, perhaps
    // as the process does.
    unsafe {
        let _ = result::free_host(half.host.cast());
        let _ = result::event::destroy(half.done);
    }
}

impl Drop for Lane {
    /// A thread's lane goes with the thread, once its work is done.
    fn drop(&mut self) {
        if self.sync().is_err() {
            // The device failed: leave the memory rather than free what it may still use.
            return;
        }
        if let Some(halves) = &self.halves {
            // SAFETY: the stream has finished (above).
            halves.iter().for_each(|h| unsafe { free_half(h) });
        }
        // SAFETY: the stream is this lane's and idle.
        let _ = unsafe { result::stream::destroy(self.stream) };
    }
}
