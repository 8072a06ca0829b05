//! retrievalMetrics / retrievalMetricsAsync.
use crate::errors::Code;
use crate::options::RetrievalOptions;
use crate::task::{
    own, own_reference, reference_of, reference_set, run_sync, spawn, CancelToken, Data, Op,
    ReferenceSet,
};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef, Retrieval as CoreRetrieval};

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

pub struct Retrieval<'a> {
    queries: Data<'a, f32>,
    query_labels: Data<'a, i32>,
    /// The reference rows and labels; none: the queries against themselves.
    reference: ReferenceSet<'a>,
    /// Query rows, reference rows, columns.
    shape: [u32; 3],
    opts: RetrievalOptions,
}

impl<'a> Retrieval<'a> {
    fn new(
        queries: &'a [f32],
        query_labels: &'a [i32],
        reference: ReferenceSet<'a>,
        shape: [u32; 3],
        opts: Option<RetrievalOptions>,
    ) -> Self {
        Retrieval {
            queries: queries.into(),
            query_labels: query_labels.into(),
            reference,
            shape,
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Retrieval<'static> {
        Retrieval {
            queries: own(self.queries),
            query_labels: own(self.query_labels),
            reference: own_reference(self.reference),
            ..self
        }
    }
}

impl Op for Retrieval<'_> {
    type Output = CoreRetrieval;
    type Js = RetrievalResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<CoreRetrieval, Error> {
        let [q_rows, r_rows, cols] = self.shape.map(|v| v as usize);
        let q = MatRef::named("queries", &self.queries, q_rows, cols)?;
        let reference = reference_of(&self.reference, r_rows as u32, cols)?;
        device.retrieval_metrics(
            q,
            &self.query_labels,
            reference,
            &(&self.opts).try_into()?,
            call,
        )
    }
    fn to_js(r: CoreRetrieval) -> RetrievalResult {
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
}

/// Retrieval metrics of queries against a reference set (or against themselves).
#[napi]
#[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
pub fn retrieval_metrics(
    queries: &[f32],
    query_rows: u32,
    query_labels: &[i32],
    reference: Option<&[f32]>,
    reference_rows: u32,
    reference_labels: Option<&[i32]>,
    cols: u32,
    opts: Option<RetrievalOptions>,
) -> napi::Result<RetrievalResult, Code> {
    let reference = reference_set(reference, reference_labels);
    run_sync(Retrieval::new(
        queries,
        query_labels,
        reference,
        [query_rows, reference_rows, cols],
        opts,
    ))
}

/// Async twin of `retrievalMetrics`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<RetrievalResult>")]
#[allow(clippy::too_many_arguments)]
pub fn retrieval_metrics_async<'env>(
    env: &'env Env,
    queries: &[f32],
    query_rows: u32,
    query_labels: &[i32],
    reference: Option<&[f32]>,
    reference_rows: u32,
    reference_labels: Option<&[i32]>,
    cols: u32,
    opts: Option<RetrievalOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let reference = reference_set(reference, reference_labels);
    spawn(
        env,
        Retrieval::new(
            queries,
            query_labels,
            reference,
            [query_rows, reference_rows, cols],
            opts,
        )
        .owned(),
        token,
    )
}
