//! tripletLoss / tripletLossAsync.
use crate::errors::Code;
use crate::options::{LossOptions, Triplets};
use crate::task::{own, run_sync, spawn, CancelToken, Data, Job, Op};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi_derive::napi;
use tripletkit_core::{Call, Device, Error, MatRef, Mining, Strategy};

#[napi(object, object_from_js = false)]
pub struct LossResult {
    pub loss: f64,
    /// dLoss/dx, rows × cols.
    pub grad: Float32Array,
    pub triplets: f64,
    pub active: f64,
}

impl LossResult {
    pub fn from_core(r: tripletkit_core::LossResult) -> Self {
        LossResult {
            loss: r.loss,
            grad: Float32Array::new(r.grad),
            triplets: r.triplets as f64,
            active: r.active as f64,
        }
    }
}

pub struct Loss<'a> {
    x: Data<'a, f32>,
    labels: Data<'a, i32>,
    /// Given triplets (anchor, positive, negative), or none: mine with `opts.strategy`.
    triplets: Option<[Data<'a, i32>; 3]>,
    shape: [u32; 2],
    opts: LossOptions,
}

impl<'a> Loss<'a> {
    fn new(
        x: &'a [f32],
        rows: u32,
        cols: u32,
        labels: &'a [i32],
        opts: Option<LossOptions>,
        triplets: Option<&'a Triplets>,
    ) -> Self {
        Loss {
            x: x.into(),
            labels: labels.into(),
            triplets: triplets
                .map(|t| [&t.anchor, &t.positive, &t.negative].map(|v| Data::from(&v[..]))),
            shape: [rows, cols],
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Loss<'static> {
        Loss {
            x: own(self.x),
            labels: own(self.labels),
            triplets: self.triplets.map(|t| t.map(own)),
            ..self
        }
    }
}

impl Op for Loss<'_> {
    type Output = tripletkit_core::LossResult;
    type Js = LossResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let x = MatRef::named("embeddings", &self.x, rows, cols)?;
        let mining = match (&self.triplets, &self.opts.strategy) {
            (Some([anchor, positive, negative]), _) => Mining::Triplets {
                anchor,
                positive,
                negative,
            },
            (None, s) => Mining::Strategy(
                s.as_deref()
                    .map(str::parse)
                    .transpose()?
                    .unwrap_or(Strategy::BatchHard),
            ),
        };
        device.triplet_loss(x, &self.labels, mining, &(&self.opts).try_into()?, call)
    }
    fn to_js(r: Self::Output) -> LossResult {
        LossResult::from_core(r)
    }
}

/// Triplet loss and its gradient over mined triplets, or exactly `triplets` when given.
#[napi]
pub fn triplet_loss(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<LossOptions>,
    triplets: Option<Triplets>,
) -> napi::Result<LossResult, Code> {
    run_sync(Loss::new(x, rows, cols, labels, opts, triplets.as_ref()))
}

/// Async twin of `tripletLoss`, on the libuv pool; the inputs (given triplets included) are
/// copied first, and the JS-backed originals dropped here, on the JS thread.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<LossResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `tripletLoss`, plus its token
pub fn triplet_loss_async(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<LossOptions>,
    triplets: Option<Triplets>,
    token: Option<&CancelToken>,
) -> AsyncTask<Job<Loss<'static>>> {
    let op = Loss::new(x, rows, cols, labels, opts, triplets.as_ref()).owned();
    spawn(op, token)
}
