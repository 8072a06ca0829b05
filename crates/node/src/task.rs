//! The sync / async glue, written once for every op.
//!
//! An op is a struct of its inputs (borrowed from JS for a sync call, owned for an async one)
//! that implements [`Op`]: which device it names, how it runs there, and how its result
//! becomes JS values. [`run_sync`] runs it now, on the JS thread; [`spawn`] runs it on a
//! thread of its own and returns a promise, stoppable through a [`CancelToken`]. Both go through
//! [`guard`], and both reject or throw with the core's error codes.
use crate::errors::{guard, Code, Failure};
use crate::registry;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::Env;
use napi::JsValue;
use napi_derive::napi;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tripletkit_core::{Call, Device, Error as CoreError, Stop};

/// One call of an op, ready to run on a device.
pub trait Op: Send {
    /// The core's result.
    type Output: Send + 'static;
    /// What JavaScript receives (a napi value; unbounded here so that the glue also builds
    /// for `cargo test`, where napi's objects are not generated).
    type Js;
    /// The device the call names (`None`: the CPU).
    fn device(&self) -> Option<&str>;
    /// The `maxMemory` option: bytes a GPU op may plan with.
    fn max_memory(&self) -> Option<usize> {
        None
    }
    /// Runs the op on `device`; argument rules are the core's.
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, CoreError>;
    /// Hands the result to JavaScript (vectors become typed arrays without a copy).
    fn to_js(out: Self::Output) -> Self::Js;
}

/// Runs `op` on the JS thread, with no stop flag.
pub fn run_sync<O: Op>(op: O) -> napi::Result<O::Js, Code> {
    guard(|| {
        let device = registry::device(op.device())?;
        let call = Call {
            max_memory: op.max_memory(),
            ..Call::PLAIN
        };
        op.run(device, &call)
    })
    .map(O::to_js)
    .map_err(Failure::into_napi)
}

/// Runs `op` on a thread of its own and returns its promise; `token` can stop it between
/// blocks of work and shows its progress.
///
/// Not on the libuv pool: Node waits for pool work when it exits (`uv_library_shutdown`) and
/// when a worker's environment tears down, so a long op there would hold `process.exit()` or
/// `worker.terminate()` until it finished. Our threads are not waited for, and an environment
/// cleanup hook raises the stop flag of every op the environment started, so they end within
/// a block of work; a promise settled after its environment is gone is dropped by napi.
pub fn spawn<'env, O>(
    env: &'env Env,
    op: O,
    token: Option<&CancelToken>,
) -> napi::Result<PromiseRaw<'env, O::Js>>
where
    O: Op + 'static,
    O::Js: ToNapiValue + 'static,
{
    let job = Job {
        op,
        state: token.map_or_else(Default::default, |t| Arc::clone(&t.state)),
    };
    teardown::track(env, &job.state)?;
    let (deferred, promise) = env.create_deferred::<O::Js, _>()?;
    std::thread::Builder::new()
        .name("tripletkit-task".into())
        .spawn(move || {
            let out = job.compute();
            deferred.resolve(move |env| out.map(O::to_js).map_err(|f| f.into_rejection(env)));
        })
        .map_err(|e| {
            napi::Error::from_reason(format!("could not start a thread for this call: {e}"))
        })?;
    Ok(PromiseRaw::new(env.raw(), promise.raw()))
}

/// Stops the ops a JS environment started when that environment tears down.
mod teardown {
    use super::TokenState;
    use napi::Env;
    use std::cell::RefCell;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Weak};

    // One list per JS thread, which is one environment (the main thread or a worker).
    thread_local! {
        static RUNNING: RefCell<Option<Vec<Weak<TokenState>>>> = const { RefCell::new(None) };
    }

    /// Adds `state` to this environment's list, installing the cleanup hook the first time.
    pub fn track(env: &Env, state: &Arc<TokenState>) -> napi::Result<()> {
        let first = RUNNING.with(|r| r.borrow().is_none());
        if first {
            env.add_env_cleanup_hook((), |()| stop_all())?;
        }
        RUNNING.with(|r| {
            let mut r = r.borrow_mut();
            let list = r.get_or_insert_with(Vec::new);
            // Finished ops drop their state: forget them as new ones arrive.
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(state));
        });
        Ok(())
    }

    fn stop_all() {
        let list = RUNNING.with(|r| r.borrow_mut().take()).unwrap_or_default();
        for state in list.iter().filter_map(Weak::upgrade) {
            state.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// An op and the state it shares with its token.
pub struct Job<O> {
    op: O,
    state: Arc<TokenState>,
}

impl<O: Op> Job<O> {
    /// Runs the op with the token's stop flag and progress; never panics.
    fn compute(&self) -> std::result::Result<O::Output, Failure> {
        let (op, state) = (&self.op, &*self.state);
        let progress = |done: usize, total: usize| state.advance(done, total);
        let call = Call {
            stop: Stop::on(&state.stop),
            progress: Some(&progress),
            max_memory: op.max_memory(),
        };
        guard(|| op.run(registry::device(op.device())?, &call))
    }
}

/// What a token shares with the tasks that hold it.
#[derive(Default)]
pub struct TokenState {
    stop: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl TokenState {
    /// Counts `done` more units of the current pass; a report with another total starts a
    /// new pass (mining rows, then loss triplets) and the count with it.
    fn advance(&self, done: usize, total: usize) {
        if self.total.swap(total as u64, Ordering::Relaxed) != total as u64 {
            self.done.store(0, Ordering::Relaxed);
        }
        self.done.fetch_add(done as u64, Ordering::Relaxed);
    }
}

/// A stop flag and a progress counter shared with async tasks. The TypeScript layer makes
/// one per call and cancels it when the caller's AbortSignal fires; the task then skips its
/// remaining blocks and rejects with `ERR_TRIPLETKIT_CANCELLED`.
#[napi]
#[derive(Default)]
pub struct CancelToken {
    state: Arc<TokenState>,
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
        self.state.stop.store(true, Ordering::Relaxed);
    }

    /// Whether `cancel` was called.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.state.stop.load(Ordering::Relaxed)
    }

    /// Units of work (rows, triplets) of the current pass that have finished.
    #[napi(getter)]
    pub fn done(&self) -> f64 {
        self.state.done.load(Ordering::Relaxed) as f64
    }

    /// The units of the current pass (the one that reported last).
    #[napi(getter)]
    pub fn total(&self) -> f64 {
        self.state.total.load(Ordering::Relaxed) as f64
    }
}

/// Borrowed input (a sync call) or an owned copy (an async call, whose inputs JS may change
/// while it runs).
pub type Data<'a, T> = Cow<'a, [T]>;

/// An owned copy of `d`, made on the JS thread before the task leaves it.
pub fn own<T: Clone>(d: Data<'_, T>) -> Data<'static, T> {
    Cow::Owned(d.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripletkit_core::{MatRef, MetricOptions, Ops};

    /// An op that computes a self-distance matrix of rows × 1 values, or panics.
    struct Probe {
        rows: usize,
        panics: bool,
        device: Option<&'static str>,
    }

    impl Op for Probe {
        type Output = Vec<f32>;
        type Js = u32;
        fn device(&self) -> Option<&str> {
            self.device
        }
        fn run(&self, device: &dyn Device, call: &Call) -> Result<Vec<f32>, CoreError> {
            assert!(!self.panics, "probe panicked");
            let x: Vec<f32> = (0..self.rows).map(|i| i as f32).collect();
            let m = MatRef::new(&x, self.rows, 1)?;
            device.pairwise_distances(m, None, &MetricOptions::default(), call)
        }
        fn to_js(out: Vec<f32>) -> u32 {
            out.len() as u32
        }
    }

    fn job(probe: Probe, token: &CancelToken) -> Job<Probe> {
        Job {
            op: probe,
            state: Arc::clone(&token.state),
        }
    }

    #[test]
    fn a_job_runs_reports_progress_and_stops_on_its_token() {
        let token = CancelToken::new();
        let probe = |panics, device| Probe {
            rows: 300,
            panics,
            device,
        };
        let out = job(probe(false, None), &token).compute();
        assert_eq!(out.unwrap().len(), 90_000);
        assert_eq!((token.done(), token.total()), (300.0, 300.0));

        let f = job(probe(true, None), &token).compute().unwrap_err();
        assert_eq!(f.code, "ERR_TRIPLETKIT_INTERNAL");
        let f = job(probe(false, Some("cuda")), &token)
            .compute()
            .unwrap_err();
        assert_eq!(f.code, "ERR_TRIPLETKIT_DEVICE_UNAVAILABLE");

        token.cancel();
        assert!(token.cancelled());
        let f = job(probe(false, None), &token).compute().unwrap_err();
        assert_eq!(f.code, "ERR_TRIPLETKIT_CANCELLED");
    }

    #[test]
    fn run_sync_throws_coded_errors() {
        let out = run_sync(Probe {
            rows: 3,
            panics: false,
            device: None,
        });
        assert_eq!(out.unwrap(), 9);
        let err = run_sync(Probe {
            rows: 3,
            panics: false,
            device: Some("gpu"),
        })
        .err()
        .unwrap();
        assert_eq!(err.status, "ERR_TRIPLETKIT_INVALID_ARGUMENT");
        assert_eq!(
            err.reason,
            "device: expected 'cpu' or 'cuda', received 'gpu'"
        );
    }
}
