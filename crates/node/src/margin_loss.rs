//! tripletMarginLoss / tripletMarginLossAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{core_err, device, guard, mat, parse};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::Stop;

/// The core's result, before it becomes JS values.
type CoreResult = tripletkit_core::MarginLossResult;

#[napi(object)]
#[derive(Clone)]
pub struct MarginLossOptions {
    /// Margin α.
    pub margin: f64,
    /// softplus(dap − dan) instead of the hinge.
    pub soft_margin: bool,
    /// dan := min(d(a,n), d(p,n)).
    pub swap: bool,
    /// 'mean' | 'sum' | 'none'
    pub reduction: String,
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first (gradients flow through it).
    pub normalize: bool,
}

#[napi(object, object_from_js = false)]
pub struct MarginLossResult {
    pub loss: f64,
    /// Every row's own loss.
    pub losses: Float32Array,
    pub grad_anchor: Float32Array,
    pub grad_positive: Float32Array,
    pub grad_negative: Float32Array,
}

fn margin_impl(
    anchor: &[f32],
    positive: &[f32],
    negative: &[f32],
    rows: u32,
    cols: u32,
    opts: &MarginLossOptions,
    stop: Stop,
) -> Result<CoreResult> {
    let (reduction, metric) = (parse(&opts.reduction)?, parse(&opts.metric)?);
    // One `rows × cols` shape for all three, so the rows line up.
    let (a, p, n) = (
        mat(anchor, rows, cols)?,
        mat(positive, rows, cols)?,
        mat(negative, rows, cols)?,
    );
    let o = tripletkit_core::MarginLossOptions {
        margin: opts.margin,
        soft_margin: opts.soft_margin,
        swap: opts.swap,
        reduction,
        metric,
        normalize: opts.normalize,
    };
    device(stop)
        .triplet_margin_loss(a, p, n, o)
        .map_err(core_err)
}

fn to_js(r: CoreResult) -> MarginLossResult {
    MarginLossResult {
        loss: r.loss,
        losses: Float32Array::new(r.losses),
        grad_anchor: Float32Array::new(r.grad_anchor),
        grad_positive: Float32Array::new(r.grad_positive),
        grad_negative: Float32Array::new(r.grad_negative),
    }
}

/// Triplet margin loss over row-aligned anchor / positive / negative matrices.
#[napi]
pub fn triplet_margin_loss(
    anchor: &[f32],
    positive: &[f32],
    negative: &[f32],
    rows: u32,
    cols: u32,
    opts: MarginLossOptions,
) -> Result<MarginLossResult> {
    guard(|| margin_impl(anchor, positive, negative, rows, cols, &opts, Stop::NEVER)).map(to_js)
}

pub struct MarginLossTask {
    anchor: Vec<f32>,
    positive: Vec<f32>,
    negative: Vec<f32>,
    rows: u32,
    cols: u32,
    opts: MarginLossOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for MarginLossTask {
    type Output = CoreResult;
    type JsValue = MarginLossResult;

    fn compute(&mut self) -> Result<CoreResult> {
        let s = &*self;
        guard(|| {
            margin_impl(
                &s.anchor,
                &s.positive,
                &s.negative,
                s.rows,
                s.cols,
                &s.opts,
                Stop::on(&s.stop),
            )
        })
    }

    fn resolve(&mut self, _env: Env, out: CoreResult) -> Result<MarginLossResult> {
        Ok(to_js(out))
    }
}

/// Async twin of `tripletMarginLoss`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<MarginLossResult>")]
pub fn triplet_margin_loss_async(
    anchor: &[f32],
    positive: &[f32],
    negative: &[f32],
    rows: u32,
    cols: u32,
    opts: MarginLossOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<MarginLossTask> {
    AsyncTask::new(MarginLossTask {
        anchor: anchor.to_vec(),
        positive: positive.to_vec(),
        negative: negative.to_vec(),
        rows,
        cols,
        opts,
        stop: task_flag(token),
    })
}
