//! pairwiseDistances / pairwiseDistancesAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::MetricOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

pub struct Pairwise<'a> {
    a: Data<'a, f32>,
    b: Option<Data<'a, f32>>,
    shape: [u32; 3],
    opts: MetricOptions,
}

impl<'a> Pairwise<'a> {
    fn new(
        a: &'a [f32],
        a_rows: u32,
        b: Option<&'a [f32]>,
        b_rows: u32,
        cols: u32,
        opts: Option<MetricOptions>,
    ) -> Self {
        Pairwise {
            a: a.into(),
            b: b.map(Into::into),
            shape: [a_rows, b_rows, cols],
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Pairwise<'static> {
        Pairwise {
            a: own(self.a),
            b: self.b.map(own),
            ..self
        }
    }
}

impl Op for Pairwise<'_> {
    type Output = Vec<f32>;
    type Js = Array<f32>;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Vec<f32>, Error> {
        let [a_rows, b_rows, cols] = self.shape.map(|v| v as usize);
        let a = MatRef::named("a", &self.a, a_rows, cols)?;
        let b = self
            .b
            .as_deref()
            .map(|b| MatRef::named("b", b, b_rows, cols))
            .transpose()?;
        device.pairwise_distances(a, b, &(&self.opts).try_into()?, call)
    }
    fn to_js(out: Vec<f32>) -> Array<f32> {
        Array(out)
    }
}

/// `aRows × bRows` distances, row-major; `b === null`: `a` against itself.
#[napi(ts_return_type = "Float32Array")]
pub fn pairwise_distances(
    a: &[f32],
    a_rows: u32,
    b: Option<&[f32]>,
    b_rows: u32,
    cols: u32,
    opts: Option<MetricOptions>,
) -> napi::Result<Array<f32>, Code> {
    run_sync(Pairwise::new(a, a_rows, b, b_rows, cols, opts))
}

/// Async twin of `pairwiseDistances`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<Float32Array>")]
#[allow(clippy::too_many_arguments)] // mirrors `pairwiseDistances`, plus the env and its token
pub fn pairwise_distances_async<'env>(
    env: &'env Env,
    a: &[f32],
    a_rows: u32,
    b: Option<&[f32]>,
    b_rows: u32,
    cols: u32,
    opts: Option<MetricOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(
        env,
        Pairwise::new(a, a_rows, b, b_rows, cols, opts).owned(),
        token,
    )
}
