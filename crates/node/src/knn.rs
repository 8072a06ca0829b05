//! knn / knnAsync: one search, the corpus used once (borrowed where the device allows). And
//! KnnIndex: a corpus prepared once per call (copied, normalised, its norms computed; on a
//! GPU, uploaded), then searched batch by batch with `search` / `searchAsync`.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::{MetricOptions, SearchOptions};
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use std::sync::{Arc, Mutex, PoisonError};
use tripletkit_core::Ops;
use tripletkit_core::{Call, Corpus, Device, Error, Knn as CoreKnn, MatRef};

/// Row-major queryRows × k, each row ascending by (distance, index).
#[napi(object, object_from_js = false)]
pub struct KnnResult {
    #[napi(ts_type = "Int32Array")]
    pub indices: Array<i32>,
    #[napi(ts_type = "Float32Array")]
    pub distances: Array<f32>,
}

fn knn_to_js(out: CoreKnn) -> KnnResult {
    KnnResult {
        indices: Array(out.indices),
        distances: Array(out.distances),
    }
}

pub struct Knn<'a> {
    queries: Data<'a, f32>,
    corpus: Data<'a, f32>,
    /// Query rows, corpus rows, columns.
    shape: [u32; 3],
    opts: MetricOptions,
    search: SearchOptions,
}

impl<'a> Knn<'a> {
    fn new(
        queries: &'a [f32],
        corpus: &'a [f32],
        shape: [u32; 3],
        opts: Option<MetricOptions>,
        search: SearchOptions,
    ) -> Self {
        Knn {
            queries: queries.into(),
            corpus: corpus.into(),
            shape,
            opts: opts.unwrap_or_default(),
            search,
        }
    }

    fn owned(self) -> Knn<'static> {
        Knn {
            queries: own(self.queries),
            corpus: own(self.corpus),
            ..self
        }
    }
}

impl Op for Knn<'_> {
    type Output = CoreKnn;
    type Js = KnnResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<CoreKnn, Error> {
        let [q_rows, c_rows, cols] = self.shape.map(|v| v as usize);
        let q = MatRef::named("queries", &self.queries, q_rows, cols)?;
        let c = MatRef::named("corpus", &self.corpus, c_rows, cols)?;
        device.knn_once(
            q,
            c,
            &(&self.opts).try_into()?,
            &(&self.search).into(),
            call,
        )
    }
    fn to_js(out: CoreKnn) -> KnnResult {
        knn_to_js(out)
    }
}

/// The k nearest corpus rows of every query row, the corpus used for this call only.
#[napi]
pub fn knn(
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: Option<MetricOptions>,
    search: SearchOptions,
) -> napi::Result<KnnResult, Code> {
    run_sync(Knn::new(
        queries,
        corpus,
        [query_rows, corpus_rows, cols],
        opts,
        search,
    ))
}

/// Async twin of `knn`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<KnnResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `knn`, plus its token
pub fn knn_async<'env>(
    env: &'env Env,
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: Option<MetricOptions>,
    search: SearchOptions,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let shape = [query_rows, corpus_rows, cols];
    spawn(
        env,
        Knn::new(queries, corpus, shape, opts, search).owned(),
        token,
    )
}

/// Where an index's corpus stands: its raw copy until the first search prepares it.
enum State {
    Raw(Vec<f32>),
    Ready(Arc<dyn Corpus>),
    Failed(Error),
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
                let made = (&self.opts)
                    .try_into()
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
    #[napi(ts_return_type = "Promise<KnnResult>")]
    pub fn search_async<'env>(
        &self,
        env: &'env Env,
        queries: &[f32],
        rows: u32,
        opts: SearchOptions,
        token: Option<&CancelToken>,
    ) -> napi::Result<Object<'env>> {
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
        self.corpus.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let corpus = self.corpus.get(device)?;
        let q = MatRef::named("queries", &self.queries, self.rows as usize, corpus.cols())?;
        device.knn(q, &*corpus, &(&self.opts).into(), call)
    }
    fn to_js(out: Self::Output) -> KnnResult {
        knn_to_js(out)
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
