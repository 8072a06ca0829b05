//! knn / knnAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{core_err, device, guard, invalid, mat, parse};
use napi::bindgen_prelude::{AsyncTask, Float32Array, Int32Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::{Metric, Stop};

#[napi(object)]
#[derive(Clone)]
pub struct KnnOptions {
    /// Neighbours per query: 1 ≤ k ≤ corpusRows (− 1 with excludeSelf).
    pub k: u32,
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first.
    pub normalize: bool,
    /// Query i never returns corpus index queryOffset + i.
    pub exclude_self: bool,
    /// Global index of the first query row, so excludeSelf works on a batch of queries.
    pub query_offset: u32,
}

/// Row-major queryRows × k, each row ascending by (distance, index).
#[napi(object, object_from_js = false)]
pub struct KnnResult {
    pub indices: Int32Array,
    pub distances: Float32Array,
}

fn knn_impl(
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: &KnnOptions,
    stop: Stop,
) -> Result<tripletkit_core::Knn> {
    let metric: Metric = parse(&opts.metric)?;
    let q = mat(queries, query_rows, cols)?;
    let c = mat(corpus, corpus_rows, cols)?;
    // The core trusts k; an oversized k must fail here, not read past the corpus.
    let max_k = corpus_rows.saturating_sub(u32::from(opts.exclude_self));
    if opts.k > max_k {
        return Err(invalid(format!(
            "k must be at most {max_k}, received {}",
            opts.k
        )));
    }
    device(stop)
        .knn(
            q,
            c,
            opts.k as usize,
            metric,
            opts.normalize,
            opts.exclude_self,
            opts.query_offset as usize,
        )
        .map_err(core_err)
}

fn to_js(out: tripletkit_core::Knn) -> KnnResult {
    KnnResult {
        indices: Int32Array::new(out.indices),
        distances: Float32Array::new(out.distances),
    }
}

/// Exact k nearest corpus rows of every query row.
#[napi]
pub fn knn(
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: KnnOptions,
) -> Result<KnnResult> {
    guard(|| {
        knn_impl(
            queries,
            query_rows,
            corpus,
            corpus_rows,
            cols,
            &opts,
            Stop::NEVER,
        )
    })
    .map(to_js)
}

pub struct KnnTask {
    queries: Vec<f32>,
    query_rows: u32,
    corpus: Vec<f32>,
    corpus_rows: u32,
    cols: u32,
    opts: KnnOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for KnnTask {
    type Output = tripletkit_core::Knn;
    type JsValue = KnnResult;

    fn compute(&mut self) -> Result<Self::Output> {
        let s = &*self;
        guard(|| {
            knn_impl(
                &s.queries,
                s.query_rows,
                &s.corpus,
                s.corpus_rows,
                s.cols,
                &s.opts,
                Stop::on(&s.stop),
            )
        })
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<KnnResult> {
        Ok(to_js(out))
    }
}

/// Async twin of `knn`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<KnnResult>")]
pub fn knn_async(
    queries: &[f32],
    query_rows: u32,
    corpus: &[f32],
    corpus_rows: u32,
    cols: u32,
    opts: KnnOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<KnnTask> {
    AsyncTask::new(KnnTask {
        queries: queries.to_vec(),
        query_rows,
        corpus: corpus.to_vec(),
        corpus_rows,
        cols,
        opts,
        stop: task_flag(token),
    })
}
