//! multipleNegativesRankingLoss / multipleNegativesRankingLossAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::RankingOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

#[napi(object, object_from_js = false)]
pub struct RankingResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad_anchors: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_positives: Array<f32>,
    /// Present when negatives were given.
    #[napi(ts_type = "Float32Array")]
    pub grad_negatives: Option<Array<f32>>,
}

pub struct Ranking<'a> {
    anchors: Data<'a, f32>,
    positives: Data<'a, f32>,
    negatives: Option<Data<'a, f32>>,
    /// Anchor (and positive) rows, negative rows, columns.
    shape: [u32; 3],
    opts: RankingOptions,
}

impl<'a> Ranking<'a> {
    fn new(
        [anchors, positives]: [&'a [f32]; 2],
        negatives: Option<&'a [f32]>,
        shape: [u32; 3],
        opts: Option<RankingOptions>,
    ) -> Self {
        Ranking {
            anchors: anchors.into(),
            positives: positives.into(),
            negatives: negatives.map(Into::into),
            shape,
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Ranking<'static> {
        Ranking {
            anchors: own(self.anchors),
            positives: own(self.positives),
            negatives: self.negatives.map(own),
            ..self
        }
    }
}

impl Op for Ranking<'_> {
    type Output = tripletkit_core::RankingResult;
    type Js = RankingResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [rows, neg_rows, cols] = self.shape.map(|v| v as usize);
        let a = MatRef::named("anchors", &self.anchors, rows, cols)?;
        let p = MatRef::named("positives", &self.positives, rows, cols)?;
        let n = self
            .negatives
            .as_deref()
            .map(|n| MatRef::named("negatives", n, neg_rows, cols))
            .transpose()?;
        device.multiple_negatives_ranking_loss(a, p, n, &(&self.opts).try_into()?, call)
    }
    fn to_js(r: Self::Output) -> RankingResult {
        RankingResult {
            loss: r.loss,
            grad_anchors: Array(r.grad_anchors),
            grad_positives: Array(r.grad_positives),
            grad_negatives: r.grad_negatives.map(Array),
        }
    }
}

/// Multiple negatives ranking loss of row-aligned anchors and positives, with extra negatives.
#[napi]
#[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
pub fn multiple_negatives_ranking_loss(
    anchors: &[f32],
    positives: &[f32],
    rows: u32,
    negatives: Option<&[f32]>,
    negative_rows: u32,
    cols: u32,
    opts: Option<RankingOptions>,
) -> napi::Result<RankingResult, Code> {
    let shape = [rows, negative_rows, cols];
    run_sync(Ranking::new([anchors, positives], negatives, shape, opts))
}

/// Async twin of `multipleNegativesRankingLoss`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<RankingResult>")]
#[allow(clippy::too_many_arguments)] // mirrors the sync export, plus its token
pub fn multiple_negatives_ranking_loss_async<'env>(
    env: &'env Env,
    anchors: &[f32],
    positives: &[f32],
    rows: u32,
    negatives: Option<&[f32]>,
    negative_rows: u32,
    cols: u32,
    opts: Option<RankingOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let shape = [rows, negative_rows, cols];
    spawn(
        env,
        Ranking::new([anchors, positives], negatives, shape, opts).owned(),
        token,
    )
}
