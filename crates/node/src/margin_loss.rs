//! tripletMarginLoss / tripletMarginLossAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::MarginLossOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

#[napi(object, object_from_js = false)]
pub struct MarginLossResult {
    pub loss: f64,
    /// Every row's own loss.
    #[napi(ts_type = "Float32Array")]
    pub losses: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_anchor: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_positive: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_negative: Array<f32>,
}

pub struct MarginLoss<'a> {
    /// Anchor, positive, negative: each `rows × cols`.
    sides: [Data<'a, f32>; 3],
    shape: [u32; 2],
    opts: MarginLossOptions,
}

impl<'a> MarginLoss<'a> {
    fn new(sides: [&'a [f32]; 3], rows: u32, cols: u32, opts: Option<MarginLossOptions>) -> Self {
        MarginLoss {
            sides: sides.map(Data::from),
            shape: [rows, cols],
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> MarginLoss<'static> {
        MarginLoss {
            sides: self.sides.map(own),
            ..self
        }
    }
}

impl Op for MarginLoss<'_> {
    type Output = tripletkit_core::MarginLossResult;
    type Js = MarginLossResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let [a, p, n] = &self.sides;
        let (a, p, n) = (
            MatRef::named("anchor", a, rows, cols)?,
            MatRef::named("positive", p, rows, cols)?,
            MatRef::named("negative", n, rows, cols)?,
        );
        device.triplet_margin_loss(a, p, n, &(&self.opts).try_into()?, call)
    }
    fn to_js(r: Self::Output) -> MarginLossResult {
        MarginLossResult {
            loss: r.loss,
            losses: Array(r.losses),
            grad_anchor: Array(r.grad_anchor),
            grad_positive: Array(r.grad_positive),
            grad_negative: Array(r.grad_negative),
        }
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
    opts: Option<MarginLossOptions>,
) -> napi::Result<MarginLossResult, Code> {
    run_sync(MarginLoss::new(
        [anchor, positive, negative],
        rows,
        cols,
        opts,
    ))
}

/// Async twin of `tripletMarginLoss`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<MarginLossResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `tripletMarginLoss`, plus the env and its token
pub fn triplet_margin_loss_async<'env>(
    env: &'env Env,
    anchor: &[f32],
    positive: &[f32],
    negative: &[f32],
    rows: u32,
    cols: u32,
    opts: Option<MarginLossOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(
        env,
        MarginLoss::new([anchor, positive, negative], rows, cols, opts).owned(),
        token,
    )
}
