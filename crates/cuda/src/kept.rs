//! Device memory kept between calls (a searched corpus that stays on the GPU): owned through
//! a shared handle on the GPU rather than borrowed for one call as `gpu::Buffer` is, and
//! counted in the device's `Keeper`, so that every later op plans its chunks without it.
use crate::gpu::{DevPtr, Gpu};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tripletkit_core::Error;

/// What a device keeps between calls: the GPU, and the bytes held there by `Kept` buffers.
#[derive(Clone)]
pub struct Keeper {
    gpu: Arc<dyn Gpu>,
    held: Arc<AtomicUsize>,
}

impl Keeper {
    pub fn new(gpu: Arc<dyn Gpu>) -> Self {
        Keeper {
            gpu,
            held: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn gpu(&self) -> &dyn Gpu {
        &*self.gpu
    }

    /// Bytes kept on the device now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A copy of `src` kept on the device until the buffer is dropped.
    pub fn keep<T: Copy>(&self, src: &[T]) -> Result<Kept, Error> {
        let bytes = size_of_val(src).max(1);
        let ptr = self.gpu.alloc_kept(bytes)?;
        // Counted first, so that the drop below (on a failed copy) takes back what it adds.
        self.held.fetch_add(bytes, Ordering::Relaxed);
        let kept = Kept {
            keeper: self.clone(),
            ptr,
            bytes,
        };
        // SAFETY: `ptr` holds at least the bytes of `src`.
        unsafe {
            self.gpu
                .upload(ptr, src.as_ptr().cast(), size_of_val(src))?
        };
        // Other threads' work reads it next, so the copy must have landed.
        self.gpu.sync()?;
        Ok(kept)
    }
}

/// Device memory owned past one call; freed on drop, from whichever thread drops it (the
/// driver makes its context current first).
pub struct Kept {
    keeper: Keeper,
    ptr: DevPtr,
    bytes: usize,
}

impl Kept {
    pub fn ptr(&self) -> DevPtr {
        self.ptr
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_kept` on this GPU and this is its only owner.
        unsafe { self.keeper.gpu.free_kept(self.ptr) };
        self.keeper.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}
