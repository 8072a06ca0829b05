//! knn / knnAsync: one search, the corpus used once (borrowed where the device allows). And
//! KnnIndex: a corpus prepared once per call (copied, normalised, its norms computed; on a
//! GPU, uploaded), then searched batch by batch with `search` / `searchAsync`.
use crate::errors::Code;
use crate::options::{MetricOptions, SearchOptions};
use crate::task::{own, run_sync, spawn, CancelToken, Data, Job, Op};
use napi::bindgen_prelude::{AsyncTask, Float32Array, Int32Array};
use napi_derive::napi;
use std::sync::{Arc, Mutex, OnceLock};
use tripletkit_core::{Call, Corpus, Device, Error, Knn as CoreKnn, MatRef};

/// Row-major queryRows × k, each row ascending by (distance, index).
#[napi(object, object_from_js = false)]
pub struct KnnResult {
    pub indices: Int32Array,
    pub distances: Float32Array,
}

fn knn_to_js(out: CoreKnn) -> KnnResult {
    KnnResult {
        indices: Int32Array::new(out.indices),
        distances: Float32Array::new(out.distances),
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

/// Async twin of `knn`, on the libuv pool; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<KnnResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `knn`, plus its token
pub fn knn_async(
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: Option<MetricOptions>,
    search: SearchOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<Job<Knn<'static>>> {
    let shape = [query_rows, corpus_rows, cols];
    spawn(
        Knn::new(queries, corpus, shape, opts, search).owned(),
        token,
    )
}

/// The corpus: its raw copy until the first search prepares it on the index's device.
struct Prepared {
    raw: Mutex<Option<Vec<f32>>>,
    rows: usize,
    cols: usize,
    opts: MetricOptions,
    corpus: OnceLock<Result<Box<dyn Corpus>, Error>>,
}

impl Prepared {
    /// The prepared corpus, made by the first caller (on the libuv pool for async searches,
    /// so the JS thread never normalises or uploads it).
    fn get(&self, device: &dyn Device) -> Result<&dyn Corpus, Error> {
        let made = self.corpus.get_or_init(|| {
            let raw = self
                .raw
                .lock()
                .map_err(|_| Error::invalid("corpus", "a search panicked while preparing it"))?
                .take();
            let raw = raw.ok_or_else(|| Error::invalid("corpus", "it was prepared already"))?;
            device.prepare_corpus(raw, self.rows, self.cols, &(&self.opts).try_into()?)
        });
        made.as_deref().map_err(Clone::clone)
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
                raw: Mutex::new(Some(corpus.to_vec())),
                rows: rows as usize,
                cols: cols as usize,
                opts: opts.unwrap_or_default(),
                corpus: OnceLock::new(),
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

    /// Async twin of `search`, on the libuv pool; the queries are copied first.
    #[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
    #[napi(ts_return_type = "Promise<KnnResult>")]
    pub fn search_async(
        &self,
        queries: &[f32],
        rows: u32,
        opts: SearchOptions,
        token: Option<&CancelToken>,
    ) -> AsyncTask<Job<Search<'static>>> {
        spawn(self.query(queries, rows, opts).owned(), token)
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
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let corpus = self.corpus.get(device)?;
        let q = MatRef::named("queries", &self.queries, self.rows as usize, corpus.cols())?;
        device.knn(q, corpus, &(&self.opts).into(), call)
    }
    fn to_js(out: Self::Output) -> KnnResult {
        knn_to_js(out)
    }
}
