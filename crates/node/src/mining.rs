//! mineTriplets / mineTripletsAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{check_labels, device, guard, invalid, mat, parse};
use napi::bindgen_prelude::{AsyncTask, Int32Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::{Metric, Stop, Strategy, Triplets};

#[napi(object)]
#[derive(Clone)]
pub struct MineOptions {
    /// 'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'
    pub strategy: String,
    /// Margin α of the set strategies.
    pub margin: f64,
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first.
    pub normalize: bool,
    /// Set strategies fail with "TooManyTriplets: …" rather than grow past this (≤ 2^31 − 1).
    pub max_triplets: f64,
}

/// Parallel index arrays: triplet t is (anchor[t], positive[t], negative[t]).
/// Also accepted as input (`LossOptions.triplets`).
#[napi(object)]
pub struct TripletsResult {
    pub anchor: Int32Array,
    pub positive: Int32Array,
    pub negative: Int32Array,
}

impl TripletsResult {
    pub fn from_core(t: Triplets) -> Self {
        Self {
            anchor: Int32Array::new(t.anchor),
            positive: Int32Array::new(t.positive),
            negative: Int32Array::new(t.negative),
        }
    }

    /// A Rust-owned copy, safe to move to the libuv pool and drop there.
    pub fn to_owned_copy(&self) -> Self {
        Self {
            anchor: Int32Array::new(self.anchor.to_vec()),
            positive: Int32Array::new(self.positive.to_vec()),
            negative: Int32Array::new(self.negative.to_vec()),
        }
    }
}

/// maxTriplets arrives as a JS number (up to 2^31 − 1, beyond u32's comfort with NaN/negatives).
pub fn max_triplets(v: f64) -> Result<usize> {
    if v.is_nan() || v < 0.0 {
        return Err(invalid(format!(
            "maxTriplets must be a non-negative number, received {v}"
        )));
    }
    // `as` saturates, so +Infinity means "no limit".
    Ok(v as usize)
}

fn mine_impl(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: &MineOptions,
    stop: Stop,
) -> Result<Triplets> {
    let strategy: Strategy = parse(&opts.strategy)?;
    let metric: Metric = parse(&opts.metric)?;
    let x = mat(x, rows, cols)?;
    check_labels("labels", labels, rows)?;
    let limit = max_triplets(opts.max_triplets)?;
    device(stop)
        .mine_triplets(
            x,
            labels,
            strategy,
            opts.margin as f32,
            metric,
            opts.normalize,
            limit,
        )
        .map_err(crate::guard::core_err)
}

/// Mines triplets from a labelled batch.
#[napi]
pub fn mine_triplets(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: MineOptions,
) -> Result<TripletsResult> {
    guard(|| mine_impl(x, rows, cols, labels, &opts, Stop::NEVER)).map(TripletsResult::from_core)
}

pub struct MineTask {
    x: Vec<f32>,
    rows: u32,
    cols: u32,
    labels: Vec<i32>,
    opts: MineOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for MineTask {
    type Output = Triplets;
    type JsValue = TripletsResult;

    fn compute(&mut self) -> Result<Triplets> {
        let s = &*self;
        guard(|| mine_impl(&s.x, s.rows, s.cols, &s.labels, &s.opts, Stop::on(&s.stop)))
    }

    fn resolve(&mut self, _env: Env, out: Triplets) -> Result<TripletsResult> {
        Ok(TripletsResult::from_core(out))
    }
}

/// Async twin of `mineTriplets`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<TripletsResult>")]
pub fn mine_triplets_async(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: MineOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<MineTask> {
    AsyncTask::new(MineTask {
        x: x.to_vec(),
        rows,
        cols,
        labels: labels.to_vec(),
        opts,
        stop: task_flag(token),
    })
}
