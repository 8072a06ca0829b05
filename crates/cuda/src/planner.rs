//! A GPU that plans and does not run: the op's host code runs as it would on a GPU with
//! `memory` bytes free (its chunk plans, uploads and launches), while the planner only records
//! each launch's kernel and geometry. Memory is not allocated, copies move nothing, and
//! downloads read a fixed byte, so an op's answer is meaningless; its launch geometry is the GPU's,
//! at sizes no emulator could run (10⁶ rows). What the launch-geometry model reads.
use crate::gpu::{DevPtr, Gpu};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tripletkit_core::Error;

/// One recorded launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub kernel: &'static str,
    pub grid: [u32; 3],
    pub block: [u32; 3],
}

impl Launch {
    pub fn blocks(&self) -> u64 {
        self.grid.iter().map(|&g| u64::from(g)).product()
    }
}

/// The planning GPU.
pub struct Planner {
    memory: usize,
    /// The byte every download reads.
    fill: u8,
    next: AtomicU64,
    launches: Mutex<Vec<Launch>>,
    math: crate::math::MathCell,
}

impl Planner {
    /// A GPU with `memory` bytes free whose downloads read `fill` bytes (an op's host code may
    /// check what it reads back: zeros suit most, all ones the miners that need "found").
    pub fn new(memory: usize, fill: u8) -> Self {
        Planner {
            memory,
            fill,
            next: AtomicU64::new(1 << 40),
            launches: Mutex::new(Vec::new()),
            math: crate::math::MathCell::default(),
        }
    }

    /// The launches so far, emptied.
    pub fn take(&self) -> Vec<Launch> {
        std::mem::take(&mut *self.launches.lock().unwrap())
    }
}

impl Gpu for Planner {
    fn math(&self) -> &crate::math::MathCell {
        &self.math
    }
    fn describe(&self) -> String {
        "a planned GPU (launches recorded, not run)".into()
    }
    /// As the driver's: the chunks a real GPU would be given.
    fn chunk_macs(&self) -> usize {
        1 << 33
    }
    fn free_memory(&self) -> Result<usize, Error> {
        Ok(self.memory)
    }
    fn alloc(&self, bytes: usize) -> Result<DevPtr, Error> {
        // Addresses that are never read: 256-byte aligned, apart.
        Ok(self
            .next
            .fetch_add((bytes as u64).div_ceil(256) * 256 + 256, Ordering::Relaxed))
    }
    unsafe fn free(&self, _: DevPtr) {}
    unsafe fn upload(&self, _: DevPtr, _: *const u8, _: usize) -> Result<(), Error> {
        Ok(())
    }
    unsafe fn download(&self, dst: *mut u8, _: DevPtr, bytes: usize) -> Result<(), Error> {
        // SAFETY: the caller's promise: `dst` holds `bytes` writable bytes.
        unsafe { std::ptr::write_bytes(dst, self.fill, bytes) };
        Ok(())
    }
    unsafe fn fill(&self, _: DevPtr, _: u8, _: usize) -> Result<(), Error> {
        Ok(())
    }
    unsafe fn launch(
        &self,
        name: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        _: &mut [*mut c_void],
    ) -> Result<(), Error> {
        self.launches.lock().unwrap().push(Launch {
            kernel: name,
            grid,
            block,
        });
        Ok(())
    }
}
