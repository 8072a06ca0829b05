//! oasisSteps / oasisStepsAsync: a run of OASIS steps from a given W and sampling state.
use crate::arrays::Array;
use crate::errors::Code;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

/// Options of oasisSteps.
#[napi(object)]
#[derive(Clone, Default)]
pub struct OasisOptions {
    /// Aggressiveness C, > 0.
    pub c: f64,
    /// Triplets to sample and learn from.
    pub steps: u32,
    /// The sampling stream's state (its seed, at the first call).
    pub state: u32,
    #[napi(ts_type = "'cpu' | 'cuda'")]
    pub device: Option<String>,
}

/// W after the steps, the state to continue from, and the steps' summed hinge loss.
#[napi(object, object_from_js = false)]
pub struct OasisResult {
    #[napi(ts_type = "Float64Array")]
    pub weights: Array<f64>,
    pub state: u32,
    pub loss_sum: f64,
}

pub struct Oasis<'a> {
    x: Data<'a, f32>,
    labels: Data<'a, i32>,
    weights: Data<'a, f64>,
    shape: [u32; 2],
    opts: OasisOptions,
}

impl<'a> Oasis<'a> {
    fn new(
        x: &'a [f32],
        rows: u32,
        cols: u32,
        labels: &'a [i32],
        weights: &'a [f64],
        opts: OasisOptions,
    ) -> Self {
        Oasis {
            x: x.into(),
            labels: labels.into(),
            weights: weights.into(),
            shape: [rows, cols],
            opts,
        }
    }

    fn owned(self) -> Oasis<'static> {
        Oasis {
            x: own(self.x),
            labels: own(self.labels),
            weights: own(self.weights),
            ..self
        }
    }
}

impl Op for Oasis<'_> {
    type Output = tripletkit_core::OasisSteps;
    type Js = OasisResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let x = MatRef::named("embeddings", &self.x, rows, cols)?;
        let o = tripletkit_core::OasisOptions {
            c: self.opts.c,
            steps: self.opts.steps as usize,
            state: self.opts.state,
        };
        device.oasis_steps(x, &self.labels, &self.weights, &o, call)
    }
    fn to_js(r: Self::Output) -> OasisResult {
        OasisResult {
            weights: Array(r.weights),
            state: r.state,
            loss_sum: r.loss_sum,
        }
    }
}

/// Takes `opts.steps` OASIS steps from W (`cols × cols`).
#[napi]
pub fn oasis_steps(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    weights: &[f64],
    opts: OasisOptions,
) -> napi::Result<OasisResult, Code> {
    run_sync(Oasis::new(x, rows, cols, labels, weights, opts))
}

/// Async twin of `oasisSteps`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<OasisResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `oasisSteps`, plus its token
pub fn oasis_steps_async<'env>(
    env: &'env Env,
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    weights: &[f64],
    opts: OasisOptions,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(
        env,
        Oasis::new(x, rows, cols, labels, weights, opts).owned(),
        token,
    )
}
