//! contrastiveLoss / contrastiveLossAsync.
use crate::errors::Code;
use crate::loss::LossResult;
use crate::options::ContrastiveOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

pub struct Contrastive<'a> {
    x: Data<'a, f32>,
    labels: Data<'a, i32>,
    shape: [u32; 2],
    opts: ContrastiveOptions,
}

impl<'a> Contrastive<'a> {
    fn new(
        x: &'a [f32],
        rows: u32,
        cols: u32,
        labels: &'a [i32],
        opts: Option<ContrastiveOptions>,
    ) -> Self {
        Contrastive {
            x: x.into(),
            labels: labels.into(),
            shape: [rows, cols],
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Contrastive<'static> {
        Contrastive {
            x: own(self.x),
            labels: own(self.labels),
            ..self
        }
    }
}

impl Op for Contrastive<'_> {
    type Output = tripletkit_core::LossResult;
    type Js = LossResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let x = MatRef::named("embeddings", &self.x, rows, cols)?;
        device.contrastive_loss(x, &self.labels, &(&self.opts).try_into()?, call)
    }
    fn to_js(r: Self::Output) -> LossResult {
        LossResult::from_core(r)
    }
}

/// Contrastive loss over every ordered pair of a labelled batch, with its gradient.
#[napi]
pub fn contrastive_loss(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<ContrastiveOptions>,
) -> napi::Result<LossResult, Code> {
    run_sync(Contrastive::new(x, rows, cols, labels, opts))
}

/// Async twin of `contrastiveLoss`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<LossResult>")]
pub fn contrastive_loss_async<'env>(
    env: &'env Env,
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<ContrastiveOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(
        env,
        Contrastive::new(x, rows, cols, labels, opts).owned(),
        token,
    )
}
