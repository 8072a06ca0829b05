//! KnnIndex: a corpus prepared once (copied, normalised, its norms computed; on a GPU,
//! uploaded), then searched batch by batch with `search` / `searchAsync`. (`knn`, the corpus
//! used once, is a row of `exports.rs`.)
use crate::errors::Code;
use crate::glue::Placed;
use crate::options::{MetricOptions, SearchOptions, ToCore};
use crate::results::KnnResult;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use std::sync::{Arc, Mutex, PoisonError};
use tripletkit_core::Ops;
use tripletkit_core::{Call, Corpus, Device, Error, Knn as CoreKnn, MatRef};

/// Where an index's corpus stands: its raw copy until the first search prepares it.
enum State {
    Raw(Vec<f32>),
    Ready(Arc<dyn Corpus>),
    Failed(Error),
}

/// What a released index answers.
fn released() -> Error {
    Error::invalid(
        "index",
        "expected an index not yet released, received a released one",
    )
}

/// The corpus of an index and what it is prepared under.
struct Prepared {
    state: Mutex<State>,
    rows: usize,
    cols: usize,
    opts: MetricOptions,
}

impl Prepared {
    /// The prepared corpus, made by the first search (on the task thread for async searches, so
    /// the JS thread never normalises or uploads it). A failure, a panic included, is kept and
    /// returned to every later search.
    fn get(&self, device: &dyn Device) -> Result<Arc<dyn Corpus>, Error> {
        // A panic while preparing leaves `Failed` behind, so a poisoned lock holds no half state.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let panicked = State::Failed(Error::Internal("preparing the corpus panicked".into()));
        *state = match std::mem::replace(&mut *state, panicked) {
            State::Raw(raw) => {
                let made = self
                    .opts
                    .to_core()
                    .and_then(|o| device.prepare_corpus(raw, self.rows, self.cols, &o));
                match made {
                    Ok(corpus) => State::Ready(Arc::from(corpus)),
                    Err(e) => State::Failed(e),
                }
            }
            done => done,
        };
        match &*state {
            State::Ready(corpus) => Ok(Arc::clone(corpus)),
            State::Failed(e) => Err(e.clone()),
            State::Raw(_) => Err(Error::Internal("the corpus was not prepared".into())),
        }
    }
}

/// A corpus to search with many batches of queries: copied once when made, prepared once on
/// its device at the first search.
#[napi]
pub struct KnnIndex {
    corpus: Arc<Prepared>,
}

#[napi]
impl KnnIndex {
    /// Copies `rows × cols` corpus values; `opts` sets the metric, normalize and device of
    /// every search.
    #[napi(constructor)]
    pub fn new(corpus: &[f32], rows: u32, cols: u32, opts: Option<MetricOptions>) -> Self {
        KnnIndex {
            corpus: Arc::new(Prepared {
                state: Mutex::new(State::Raw(corpus.to_vec())),
                rows: rows as usize,
                cols: cols as usize,
                opts: opts.unwrap_or_default(),
            }),
        }
    }

    /// Bytes the prepared corpus keeps in device memory between searches (a GPU's copy, made
    /// by the first search with room for it); 0 on the CPU or before the first search.
    #[napi(getter)]
    pub fn device_bytes(&self) -> f64 {
        // A first search holds the lock while it prepares the corpus, which keeps nothing on
        // the device yet: the JS thread does not wait for it.
        match self.corpus.state.try_lock() {
            Ok(state) => match &*state {
                State::Ready(corpus) => corpus.device_bytes() as f64,
                _ => 0.0,
            },
            Err(_) => 0.0,
        }
    }

    /// Drops the corpus (and its device copy) now rather than when the index is collected; a
    /// search under way keeps what it reads until it ends. Later searches are refused.
    #[napi]
    pub fn release(&self) {
        let mut state = self
            .corpus
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *state = State::Failed(released());
    }

    /// The k nearest corpus rows of every query row.
    #[napi]
    pub fn search(
        &self,
        queries: &[f32],
        rows: u32,
        opts: SearchOptions,
    ) -> napi::Result<KnnResult, Code> {
        run_sync(self.query(queries, rows, opts))
    }

    /// Async twin of `search`, on a thread of its own; the queries are copied first.
    #[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
    #[napi]
    pub fn search_async<'env>(
        &self,
        env: &'env Env,
        queries: &[f32],
        rows: u32,
        opts: SearchOptions,
        token: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'env, KnnResult>> {
        spawn(env, self.query(queries, rows, opts).owned(), token)
    }

    fn query<'a>(&self, queries: &'a [f32], rows: u32, opts: SearchOptions) -> Search<'a> {
        Search {
            corpus: Arc::clone(&self.corpus),
            queries: queries.into(),
            rows,
            opts,
        }
    }
}

pub struct Search<'a> {
    corpus: Arc<Prepared>,
    queries: Data<'a, f32>,
    rows: u32,
    opts: SearchOptions,
}

impl Search<'_> {
    fn owned(self) -> Search<'static> {
        Search {
            queries: own(self.queries),
            ..self
        }
    }
}

impl Op for Search<'_> {
    type Output = CoreKnn;
    type Js = KnnResult;
    fn device(&self) -> Option<&str> {
        self.corpus.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.corpus.opts.place().max_memory
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let corpus = self.corpus.get(device)?;
        let q = MatRef::named("queries", &self.queries, self.rows as usize, corpus.cols())?;
        device.knn(q, &*corpus, &self.opts.to_core()?, call)
    }
    fn to_js(out: Self::Output) -> KnnResult {
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripletkit_core::Cpu;

    fn prepared(raw: Vec<f32>, rows: usize) -> Prepared {
        Prepared {
            state: Mutex::new(State::Raw(raw)),
            rows,
            cols: 2,
            opts: MetricOptions::default(),
        }
    }

    #[test]
    fn the_corpus_is_prepared_once_and_shared() {
        let p = prepared(vec![0.0, 1.0, 2.0, 3.0], 2);
        let (a, b) = (p.get(&Cpu).unwrap(), p.get(&Cpu).unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((a.rows(), a.cols(), a.device()), (2, 2, "cpu"));
    }

    #[test]
    fn a_failed_preparation_is_kept_for_every_later_search() {
        let p = prepared(vec![0.0, 1.0, 2.0], 2);
        for _ in 0..2 {
            let err = p.get(&Cpu).err().unwrap();
            assert_eq!(err.to_string(), "corpus: expected 2 × 2 values, received 3");
        }
    }

    #[test]
    fn a_search_runs_against_the_prepared_corpus() {
        let index = Arc::new(prepared(vec![0.0, 0.0, 3.0, 4.0], 2));
        let search = Search {
            corpus: index,
            queries: Data::from(&[3.0f32, 3.0][..]),
            rows: 1,
            opts: SearchOptions {
                k: 2,
                ..SearchOptions::default()
            },
        };
        let out = search.run(&Cpu, &Call::PLAIN).unwrap();
        assert_eq!(out.indices, vec![1, 0]);
        assert_eq!(out.distances, vec![1.0, 18f32.sqrt()]);
    }
}
