//! supConLoss / supConLossAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::SupConOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::{Call, Device, Error, MatRef, Ops};

#[napi(object, object_from_js = false)]
pub struct SupConResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad: Array<f32>,
    /// Anchors whose loss is > 0: the ones the mean is over.
    pub anchors: u32,
}

pub struct SupCon<'a> {
    x: Data<'a, f32>,
    labels: Data<'a, i32>,
    shape: [u32; 2],
    opts: SupConOptions,
}

impl<'a> SupCon<'a> {
    fn new(
        x: &'a [f32],
        rows: u32,
        cols: u32,
        labels: &'a [i32],
        opts: Option<SupConOptions>,
    ) -> Self {
        SupCon {
            x: x.into(),
            labels: labels.into(),
            shape: [rows, cols],
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> SupCon<'static> {
        SupCon {
            x: own(self.x),
            labels: own(self.labels),
            ..self
        }
    }
}

impl Op for SupCon<'_> {
    type Output = tripletkit_core::SupConResult;
    type Js = SupConResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let x = MatRef::named("embeddings", &self.x, rows, cols)?;
        device.sup_con_loss(x, &self.labels, &(&self.opts).into(), call)
    }
    fn to_js(r: Self::Output) -> SupConResult {
        SupConResult {
            loss: r.loss,
            grad: Array(r.grad),
            anchors: u32::try_from(r.anchors).unwrap_or(u32::MAX),
        }
    }
}

/// Supervised contrastive loss of a labelled batch, with its gradient.
#[napi]
pub fn sup_con_loss(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<SupConOptions>,
) -> napi::Result<SupConResult, Code> {
    run_sync(SupCon::new(x, rows, cols, labels, opts))
}

/// Async twin of `supConLoss`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<SupConResult>")]
pub fn sup_con_loss_async<'env>(
    env: &'env Env,
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<SupConOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(env, SupCon::new(x, rows, cols, labels, opts).owned(), token)
}
