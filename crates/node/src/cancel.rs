//! CancelToken: how an aborted JS call stops its native task between blocks of work.
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A stop flag shared with async tasks. The TypeScript layer makes one per call and cancels it
/// when the caller's AbortSignal fires; the task then skips its remaining blocks and rejects.
#[napi]
#[derive(Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every task holding this token to stop at its next block of work.
    #[napi]
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether `cancel` was called.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// The flag an async task checks: the token's, or one that is never raised.
pub fn task_flag(token: Option<&CancelToken>) -> Arc<AtomicBool> {
    token.map_or_else(Default::default, |t| Arc::clone(&t.flag))
}
