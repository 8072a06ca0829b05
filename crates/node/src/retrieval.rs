//! retrievalMetrics / retrievalMetricsAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{check_labels, core_err, device, guard, invalid, mat, parse};
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::{Metric, Retrieval, Stop};

#[napi(object)]
#[derive(Clone)]
pub struct RetrievalOptions {
    /// Cut-off of recallAtK / precisionAtK (clamped to the candidates a query has).
    pub k: u32,
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first.
    pub normalize: bool,
}

/// Means over the kept queries (those with at least one relevant reference).
#[napi(object, object_from_js = false)]
pub struct RetrievalResult {
    #[napi(js_name = "precisionAt1")]
    pub precision_at_1: f64,
    pub r_precision: f64,
    pub map_at_r: f64,
    pub mrr: f64,
    pub recall_at_k: f64,
    pub precision_at_k: f64,
    pub queries: f64,
}

#[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
fn retrieval_impl(
    queries: &[f32],
    query_rows: u32,
    query_labels: &[i32],
    reference: Option<&[f32]>,
    reference_rows: u32,
    reference_labels: Option<&[i32]>,
    cols: u32,
    opts: &RetrievalOptions,
    stop: Stop,
) -> Result<Retrieval> {
    let metric: Metric = parse(&opts.metric)?;
    let q = mat(queries, query_rows, cols)?;
    check_labels("queryLabels", query_labels, query_rows)?;
    // reference === null: self-search, referenceRows / referenceLabels ignored.
    let reference = match (reference, reference_labels) {
        (None, _) => None,
        (Some(r), Some(l)) => {
            check_labels("referenceLabels", l, reference_rows)?;
            Some((mat(r, reference_rows, cols)?, l))
        }
        (Some(_), None) => {
            return Err(invalid(
                "referenceLabels is required with a reference".to_owned(),
            ))
        }
    };
    device(stop)
        .retrieval_metrics(
            q,
            query_labels,
            reference,
            opts.k as usize,
            metric,
            opts.normalize,
        )
        .map_err(core_err)
}

fn to_js(r: Retrieval) -> RetrievalResult {
    RetrievalResult {
        precision_at_1: r.precision_at_1,
        r_precision: r.r_precision,
        map_at_r: r.map_at_r,
        mrr: r.mrr,
        recall_at_k: r.recall_at_k,
        precision_at_k: r.precision_at_k,
        queries: r.queries as f64,
    }
}

/// Retrieval metrics of queries against a reference set (or against themselves).
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn retrieval_metrics(
    queries: &[f32],
    query_rows: u32,
    query_labels: &[i32],
    #[napi(ts_arg_type = "Float32Array | null")] reference: Option<&[f32]>,
    reference_rows: u32,
    #[napi(ts_arg_type = "Int32Array | null")] reference_labels: Option<&[i32]>,
    cols: u32,
    opts: RetrievalOptions,
) -> Result<RetrievalResult> {
    guard(|| {
        retrieval_impl(
            queries,
            query_rows,
            query_labels,
            reference,
            reference_rows,
            reference_labels,
            cols,
            &opts,
            Stop::NEVER,
        )
    })
    .map(to_js)
}

pub struct RetrievalTask {
    queries: Vec<f32>,
    query_rows: u32,
    query_labels: Vec<i32>,
    reference: Option<Vec<f32>>,
    reference_rows: u32,
    reference_labels: Option<Vec<i32>>,
    cols: u32,
    opts: RetrievalOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for RetrievalTask {
    type Output = Retrieval;
    type JsValue = RetrievalResult;

    fn compute(&mut self) -> Result<Retrieval> {
        let s = &*self;
        guard(|| {
            retrieval_impl(
                &s.queries,
                s.query_rows,
                &s.query_labels,
                s.reference.as_deref(),
                s.reference_rows,
                s.reference_labels.as_deref(),
                s.cols,
                &s.opts,
                Stop::on(&s.stop),
            )
        })
    }

    fn resolve(&mut self, _env: Env, out: Retrieval) -> Result<RetrievalResult> {
        Ok(to_js(out))
    }
}

/// Async twin of `retrievalMetrics`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<RetrievalResult>")]
#[allow(clippy::too_many_arguments)]
pub fn retrieval_metrics_async(
    queries: &[f32],
    query_rows: u32,
    query_labels: &[i32],
    #[napi(ts_arg_type = "Float32Array | null")] reference: Option<&[f32]>,
    reference_rows: u32,
    #[napi(ts_arg_type = "Int32Array | null")] reference_labels: Option<&[i32]>,
    cols: u32,
    opts: RetrievalOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<RetrievalTask> {
    AsyncTask::new(RetrievalTask {
        queries: queries.to_vec(),
        query_rows,
        query_labels: query_labels.to_vec(),
        // Self-search ignores the reference labels, so they are not copied then.
        reference_labels: reference.and(reference_labels).map(<[i32]>::to_vec),
        reference: reference.map(<[f32]>::to_vec),
        reference_rows,
        cols,
        opts,
        stop: task_flag(token),
    })
}
