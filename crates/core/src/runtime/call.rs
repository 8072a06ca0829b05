//! What a caller passes with every op besides its inputs: a stop flag that another thread may
//! raise, and a progress sink. Devices are long-lived; these belong to one call.

use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering};

/// A borrowed stop flag, or none (the op runs to the end). Ops check it between blocks of
/// work, skip the blocks left, and return `Error::Cancelled`, so an aborted call frees its
/// threads within one block.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop<'a>(Option<&'a AtomicBool>);

impl<'a> Stop<'a> {
    /// An op that cannot be stopped.
    pub const NEVER: Stop<'static> = Stop(None);

    /// Stops when `flag` becomes true.
    pub fn on(flag: &'a AtomicBool) -> Self {
        Stop(Some(flag))
    }

    /// Whether the op should stop now.
    #[inline]
    pub fn requested(&self) -> bool {
        self.0.is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Error::Cancelled)` once stopping was requested: results of skipped blocks are void.
    pub fn check(&self) -> Result<(), Error> {
        if self.requested() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Where an op reports progress: `(done, total)` units of its current pass (rows of a
/// distance pass, triplets of a gradient pass) each time a block of them finishes. Called
/// from worker threads, in no particular order; `done` is the count finished in that block.
pub type ProgressFn<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// The per-call context of an op.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    pub stop: Stop<'a>,
    pub progress: Option<ProgressFn<'a>>,
    /// The most memory the op may plan its chunks with: a GPU's chunks, or the cpu's tiles
    /// of distances (all threads' together); `None`: the device's own default.
    pub max_memory: Option<usize>,
}

impl<'a> Call<'a> {
    /// A call that runs to the end and reports nothing.
    pub const PLAIN: Call<'static> = Call {
        stop: Stop::NEVER,
        progress: None,
        max_memory: None,
    };

    /// A call stopped by `stop`.
    pub fn stoppable(stop: Stop<'a>) -> Self {
        Call {
            stop,
            progress: None,
            max_memory: None,
        }
    }

    /// Reports that `done` more units of `total` finished.
    #[inline]
    pub fn advance(&self, done: usize, total: usize) {
        if let Some(p) = self.progress {
            p(done, total);
        }
    }
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("stop", &self.stop)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}
