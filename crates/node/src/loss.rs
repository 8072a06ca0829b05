//! tripletLoss / tripletLossAsync.
use crate::cancel::{task_flag, CancelToken};
use crate::guard::{check_labels, core_err, device, guard, invalid, mat, parse};
use crate::mining::{max_triplets, TripletsResult};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tripletkit_core::{Mining, Stop};

/// The core's result, before it becomes JS values.
type CoreResult = tripletkit_core::LossResult;

#[napi(object)]
pub struct LossOptions {
    /// Mine with this strategy; exactly one of `strategy` and `triplets` is set.
    pub strategy: Option<String>,
    /// Use exactly these triplets (indices in 0..rows).
    pub triplets: Option<TripletsResult>,
    /// Margin α.
    pub margin: f64,
    /// softplus(dap − dan) instead of the hinge.
    pub soft_margin: bool,
    /// dan := min(d(a,n), d(p,n)).
    pub swap: bool,
    /// 'mean' | 'sum' | 'mean-active'
    pub reduction: String,
    /// 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
    pub metric: String,
    /// L2-normalize every row first (gradients flow through it).
    pub normalize: bool,
    /// Set strategies fail with "TooManyTriplets: …" rather than grow past this.
    pub max_triplets: f64,
}

impl LossOptions {
    /// A Rust-owned copy (triplet arrays included) for the libuv pool.
    fn to_owned_copy(&self) -> Self {
        Self {
            strategy: self.strategy.clone(),
            triplets: self.triplets.as_ref().map(TripletsResult::to_owned_copy),
            reduction: self.reduction.clone(),
            metric: self.metric.clone(),
            ..*self
        }
    }
}

#[napi(object, object_from_js = false)]
pub struct LossResult {
    pub loss: f64,
    /// dLoss/dx, rows × cols.
    pub grad: Float32Array,
    pub triplets: f64,
    pub active: f64,
}

/// Maps the options to the core's `Mining`, checking given triplets against `rows`:
/// the core indexes with them unchecked.
fn mining<'a>(opts: &'a LossOptions, rows: u32) -> Result<Mining<'a>> {
    match (&opts.strategy, &opts.triplets) {
        (Some(s), None) => Ok(Mining::Strategy(parse(s)?)),
        (None, Some(t)) => {
            let (a, p, n) = (&*t.anchor, &*t.positive, &*t.negative);
            if a.len() != p.len() || a.len() != n.len() {
                return Err(invalid(format!(
                    "triplet arrays differ in length: {}, {}, {}",
                    a.len(),
                    p.len(),
                    n.len()
                )));
            }
            if let Some(&i) = a
                .iter()
                .chain(p)
                .chain(n)
                .find(|&&i| i < 0 || i as u32 >= rows)
            {
                return Err(invalid(format!(
                    "triplet index {i} is out of range for {rows} rows"
                )));
            }
            Ok(Mining::Triplets {
                anchor: a,
                positive: p,
                negative: n,
            })
        }
        _ => Err(invalid(
            "exactly one of strategy and triplets must be given".to_owned(),
        )),
    }
}

fn loss_impl(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: &LossOptions,
    stop: Stop,
) -> Result<CoreResult> {
    let core_opts = tripletkit_core::LossOptions {
        margin: opts.margin,
        soft_margin: opts.soft_margin,
        swap: opts.swap,
        reduction: parse(&opts.reduction)?,
        metric: parse(&opts.metric)?,
        normalize: opts.normalize,
    };
    let x = mat(x, rows, cols)?;
    check_labels("labels", labels, rows)?;
    let mining = mining(opts, rows)?;
    let limit = max_triplets(opts.max_triplets)?;
    device(stop)
        .triplet_loss(x, labels, mining, core_opts, limit)
        .map_err(core_err)
}

fn to_js(r: CoreResult) -> LossResult {
    LossResult {
        loss: r.loss,
        grad: Float32Array::new(r.grad),
        triplets: r.triplets as f64,
        active: r.active as f64,
    }
}

/// Triplet loss and its gradient over mined or given triplets.
#[napi]
pub fn triplet_loss(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: LossOptions,
) -> Result<LossResult> {
    guard(|| loss_impl(x, rows, cols, labels, &opts, Stop::NEVER)).map(to_js)
}

pub struct LossTask {
    x: Vec<f32>,
    rows: u32,
    cols: u32,
    labels: Vec<i32>,
    opts: LossOptions,
    /// Raised when the caller aborts.
    stop: Arc<AtomicBool>,
}

impl Task for LossTask {
    type Output = CoreResult;
    type JsValue = LossResult;

    fn compute(&mut self) -> Result<CoreResult> {
        let s = &*self;
        guard(|| loss_impl(&s.x, s.rows, s.cols, &s.labels, &s.opts, Stop::on(&s.stop)))
    }

    fn resolve(&mut self, _env: Env, out: CoreResult) -> Result<LossResult> {
        Ok(to_js(out))
    }
}

/// Async twin of `tripletLoss`, on the libuv pool; the inputs are copied first.
#[napi(ts_return_type = "Promise<LossResult>")]
pub fn triplet_loss_async(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: LossOptions,
    token: Option<&CancelToken>,
) -> AsyncTask<LossTask> {
    let opts = opts.to_owned_copy(); // the JS-backed original is dropped here, on the JS thread
    AsyncTask::new(LossTask {
        x: x.to_vec(),
        rows,
        cols,
        labels: labels.to_vec(),
        opts,
        stop: task_flag(token),
    })
}
