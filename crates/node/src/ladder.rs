//! ladderLoss / ladderLossAsync.
use crate::arrays::Array;
use crate::errors::Code;
use crate::options::LadderOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef};

#[napi(object, object_from_js = false)]
pub struct LadderResult {
    pub loss: f64,
    #[napi(ts_type = "Float32Array")]
    pub grad_queries: Array<f32>,
    #[napi(ts_type = "Float32Array")]
    pub grad_candidates: Array<f32>,
}

pub struct Ladder<'a> {
    queries: Data<'a, f32>,
    candidates: Data<'a, f32>,
    /// queries × candidates.
    relevance: Data<'a, f32>,
    /// Query rows, candidate rows, columns.
    shape: [u32; 3],
    opts: LadderOptions,
}

impl<'a> Ladder<'a> {
    fn new(
        [queries, candidates, relevance]: [&'a [f32]; 3],
        shape: [u32; 3],
        opts: LadderOptions,
    ) -> Self {
        Ladder {
            queries: queries.into(),
            candidates: candidates.into(),
            relevance: relevance.into(),
            shape,
            opts,
        }
    }

    fn owned(self) -> Ladder<'static> {
        Ladder {
            queries: own(self.queries),
            candidates: own(self.candidates),
            relevance: own(self.relevance),
            ..self
        }
    }
}

impl Op for Ladder<'_> {
    type Output = tripletkit_core::LadderResult;
    type Js = LadderResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Self::Output, Error> {
        let [nq, nc, cols] = self.shape.map(|v| v as usize);
        let q = MatRef::named("queries", &self.queries, nq, cols)?;
        let c = MatRef::named("candidates", &self.candidates, nc, cols)?;
        let r = MatRef::named("relevance", &self.relevance, nq, nc)?;
        device.ladder_loss(q, c, r, &(&self.opts).try_into()?, call)
    }
    fn to_js(r: Self::Output) -> LadderResult {
        LadderResult {
            loss: r.loss,
            grad_queries: Array(r.grad_queries),
            grad_candidates: Array(r.grad_candidates),
        }
    }
}

/// Ladder loss of queries against candidates with graded relevance, with its gradients.
#[napi]
pub fn ladder_loss(
    queries: &[f32],
    candidates: &[f32],
    relevance: &[f32],
    query_rows: u32,
    candidate_rows: u32,
    cols: u32,
    opts: LadderOptions,
) -> napi::Result<LadderResult, Code> {
    let shape = [query_rows, candidate_rows, cols];
    run_sync(Ladder::new([queries, candidates, relevance], shape, opts))
}

/// Async twin of `ladderLoss`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<LadderResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `ladderLoss`, plus its token
pub fn ladder_loss_async<'env>(
    env: &'env Env,
    queries: &[f32],
    candidates: &[f32],
    relevance: &[f32],
    query_rows: u32,
    candidate_rows: u32,
    cols: u32,
    opts: LadderOptions,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    let shape = [query_rows, candidate_rows, cols];
    spawn(
        env,
        Ladder::new([queries, candidates, relevance], shape, opts).owned(),
        token,
    )
}
