//! mineTriplets / mineTripletsAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::MineOptions;
use crate::task::{
    own, own_reference, reference_of, reference_set, run_sync, spawn, CancelToken, Data, Op,
    ReferenceSet,
};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

/// Mined triplets: triplet t is (anchor[t], positive[t], negative[t]).
#[napi(object, object_from_js = false)]
pub struct MinedTriplets {
    #[napi(ts_type = "Int32Array")]
    pub anchor: Array<i32>,
    #[napi(ts_type = "Int32Array")]
    pub positive: Array<i32>,
    #[napi(ts_type = "Int32Array")]
    pub negative: Array<i32>,
}

impl MinedTriplets {
    pub fn from_core(t: tripletkit_core::Triplets) -> Self {
        MinedTriplets {
            anchor: Array(t.anchor),
            positive: Array(t.positive),
            negative: Array(t.negative),
        }
    }
}

pub struct Mine<'a> {
    x: Data<'a, f32>,
    labels: Data<'a, i32>,
    /// The cross-batch reference set: its rows and labels, and its row count.
    reference: ReferenceSet<'a>,
    reference_rows: u32,
    shape: [u32; 2],
    opts: MineOptions,
}

impl<'a> Mine<'a> {
    fn new(
        x: &'a [f32],
        rows: u32,
        cols: u32,
        labels: &'a [i32],
        opts: MineOptions,
        reference: ReferenceSet<'a>,
        reference_rows: u32,
    ) -> Self {
        Mine {
            x: x.into(),
            labels: labels.into(),
            reference,
            reference_rows,
            shape: [rows, cols],
            opts,
        }
    }

    fn owned(self) -> Mine<'static> {
        Mine {
            x: own(self.x),
            labels: own(self.labels),
            reference: own_reference(self.reference),
            ..self
        }
    }
}

impl Op for Mine<'_> {
    type Output = tripletkit_core::Triplets;
    type Js = MinedTriplets;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let x = MatRef::named("embeddings", &self.x, rows, cols)?;
        let reference = reference_of(&self.reference, self.reference_rows, cols)?;
        device.mine_triplets(x, &self.labels, reference, &(&self.opts).try_into()?, call)
    }
    fn to_js(out: Self::Output) -> MinedTriplets {
        MinedTriplets::from_core(out)
    }
}

/// Mines triplets from a labelled batch; with a cross-batch reference set, positives and
/// negatives come from it.
#[napi]
#[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
pub fn mine_triplets(
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: MineOptions,
    reference: Option<&[f32]>,
    reference_rows: Option<u32>,
    reference_labels: Option<&[i32]>,
) -> napi::Result<MinedTriplets, Code> {
    let set = reference_set(reference, reference_labels);
    run_sync(Mine::new(
        x,
        rows,
        cols,
        labels,
        opts,
        set,
        reference_rows.unwrap_or(0),
    ))
}

/// Async twin of `mineTriplets`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<MinedTriplets>")]
#[allow(clippy::too_many_arguments)] // mirrors `mineTriplets`, plus its token
pub fn mine_triplets_async<'env>(
    env: &'env Env,
    x: &[f32],
    rows: u32,
    cols: u32,
    labels: &[i32],
    opts: MineOptions,
    reference: Option<&[f32]>,
    reference_rows: Option<u32>,
    reference_labels: Option<&[i32]>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let set = reference_set(reference, reference_labels);
    let op = Mine::new(
        x,
        rows,
        cols,
        labels,
        opts,
        set,
        reference_rows.unwrap_or(0),
    );
    spawn(env, op.owned(), token)
}
