//! Stopping an op early: a flag that another thread (the JS side, when a caller aborts) may
//! raise. Ops check it between blocks of work, skip the blocks left, and return
//! `Error::Cancelled`, so an aborted call frees its threads within one block.

use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering};

/// A borrowed stop flag, or none (the op runs to the end).
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
