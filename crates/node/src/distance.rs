//! pairwiseDistances / pairwiseDistancesAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{core_err, device, guard, mat, parse};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::{Metric, Stop};

/// How distances are measured; shared by every op that takes a metric.
#[napi(object)]
#[derive(Clone)]
pub struct MetricOptions {
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first (gradients flow through it).
    pub normalize: bool,
}

fn pairwise_impl(
    a: &[f32],
    a_rows: u32,
    b: Option<&[f32]>,
    b_rows: u32,
    cols: u32,
    opts: &MetricOptions,
    stop: Stop,
) -> Result<Vec<f32>> {
    let metric: Metric = parse(&opts.metric)?;
    let a = mat(a, a_rows, cols)?;
    let b = b.map(|b| mat(b, b_rows, cols)).transpose()?;
    device(stop)
        .pairwise_distances(a, b, metric, opts.normalize)
        .map_err(core_err)
}

/// `aRows × bRows` distances, row-major; `b === null`: `a` against itself.
#[napi]
pub fn pairwise_distances(
    a: &[f32],
    a_rows: u32,
    #[napi(ts_arg_type = "Float32Array | null")] b: Option<&[f32]>,
    b_rows: u32,
    cols: u32,
    opts: MetricOptions,
) -> Result<Float32Array> {
    guard(|| pairwise_impl(a, a_rows, b, b_rows, cols, &opts, Stop::NEVER)).map(Float32Array::new)
}

pub struct PairwiseTask {
    a: Vec<f32>,
    a_rows: u32,
    b: Option<Vec<f32>>,
    b_rows: u32,
    cols: u32,
    opts: MetricOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for PairwiseTask {
    type Output = Vec<f32>;
    type JsValue = Float32Array;

    fn compute(&mut self) -> Result<Vec<f32>> {
        let s = &*self;
        guard(|| {
            pairwise_impl(
                &s.a,
                s.a_rows,
                s.b.as_deref(),
                s.b_rows,
                s.cols,
                &s.opts,
                Stop::on(&s.stop),
            )
        })
    }

    fn resolve(&mut self, _env: Env, out: Vec<f32>) -> Result<Float32Array> {
        Ok(Float32Array::new(out))
    }
}

/// Async twin of `pairwiseDistances`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<Float32Array>")]
pub fn pairwise_distances_async(
    a: &[f32],
    a_rows: u32,
    #[napi(ts_arg_type = "Float32Array | null")] b: Option<&[f32]>,
    b_rows: u32,
    cols: u32,
    opts: MetricOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<PairwiseTask> {
    AsyncTask::new(PairwiseTask {
        a: a.to_vec(),
        a_rows,
        b: b.map(<[f32]>::to_vec),
        b_rows,
        cols,
        opts,
        stop: task_flag(token),
    })
}
