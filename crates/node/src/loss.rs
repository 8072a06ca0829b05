//! tripletLoss / tripletLossAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::{LossOptions, Triplets};
use crate::task::{
    own, own_reference, reference_of, reference_set, run_sync, spawn, CancelToken, Data, Op,
    ReferenceSet,
};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef, Mining, Strategy};

#[napi(object, object_from_js = false)]
pub struct LossResult {
    pub loss: f64,
    /// dLoss/dx, rows × cols.
    #[napi(ts_type = "Float32Array")]
    pub grad: Array<f32>,
    pub triplets: f64,
    pub active: f64,
}

impl LossResult {
    pub fn from_core(r: tripletkit_core::LossResult) -> Self {
        LossResult {
            loss: r.loss,
            grad: Array(r.grad),
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
    /// The cross-batch reference set: its rows and labels, and its row count.
    reference: ReferenceSet<'a>,
    reference_rows: u32,
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
        (reference, reference_rows): (ReferenceSet<'a>, u32),
    ) -> Self {
        Loss {
            reference,
            reference_rows,
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
            reference: own_reference(self.reference),
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
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
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
        let reference = reference_of(&self.reference, self.reference_rows, cols)?;
        device.triplet_loss(
            x,
            &self.labels,
            reference,
            mining,
            &(&self.opts).try_into()?,
            call,
        )
    }
    fn to_js(r: Self::Output) -> LossResult {
        LossResult::from_core(r)
    }
}

/// Triplet loss and its gradient over mined triplets, or exactly `triplets` when given; with a
/// cross-batch reference set, positives and negatives come from it.
#[napi]
#[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
pub fn triplet_loss(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<LossOptions>,
    triplets: Option<Triplets>,
    reference: Option<&[f32]>,
    reference_rows: Option<u32>,
    reference_labels: Option<&[i32]>,
) -> napi::Result<LossResult, Code> {
    let reference_set = (
        reference_set(reference, reference_labels),
        reference_rows.unwrap_or(0),
    );
    run_sync(Loss::new(
        x,
        rows,
        cols,
        labels,
        opts,
        triplets.as_ref(),
        reference_set,
    ))
}

/// Async twin of `tripletLoss`, on a thread of its own; the inputs (given triplets included) are
/// copied first, and the JS-backed originals dropped here, on the JS thread.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<LossResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `tripletLoss`, plus its token
pub fn triplet_loss_async<'env>(
    env: &'env Env,
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: Option<LossOptions>,
    triplets: Option<Triplets>,
    reference: Option<&[f32]>,
    reference_rows: Option<u32>,
    reference_labels: Option<&[i32]>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let reference_set = (
        reference_set(reference, reference_labels),
        reference_rows.unwrap_or(0),
    );
    let op = Loss::new(
        x,
        rows,
        cols,
        labels,
        opts,
        triplets.as_ref(),
        reference_set,
    )
    .owned();
    spawn(env, op, token)
}
