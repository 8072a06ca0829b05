//! verificationMetrics / verificationMetricsAsync.
use crate::errors::Code;
use crate::options::VerificationOptions;
use crate::task::{own, run_sync, spawn, CancelToken, Data, Op};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::Ops;
use tripletkit_core::{Call, Device, Error, MatRef, Verification as CoreVerification};

/// Verification metrics of labelled pairs.
#[napi(object, object_from_js = false)]
pub struct VerificationResult {
    pub accuracy: f64,
    pub threshold: f64,
    pub roc_auc: f64,
    pub tar_at_far: f64,
    pub eer: f64,
}

pub struct Verification<'a> {
    a: Data<'a, f32>,
    b: Data<'a, f32>,
    same: Data<'a, u8>,
    shape: [u32; 2],
    opts: VerificationOptions,
}

impl<'a> Verification<'a> {
    fn new(
        [a, b]: [&'a [f32]; 2],
        same: &'a [u8],
        shape: [u32; 2],
        opts: Option<VerificationOptions>,
    ) -> Self {
        Verification {
            a: a.into(),
            b: b.into(),
            same: same.into(),
            shape,
            opts: opts.unwrap_or_default(),
        }
    }

    fn owned(self) -> Verification<'static> {
        Verification {
            a: own(self.a),
            b: own(self.b),
            same: own(self.same),
            ..self
        }
    }
}

impl Op for Verification<'_> {
    type Output = CoreVerification;
    type Js = VerificationResult;
    fn device(&self) -> Option<&str> {
        self.opts.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.opts.max_memory.map(|b| b as usize)
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<CoreVerification, Error> {
        let [rows, cols] = self.shape.map(|v| v as usize);
        let a = MatRef::named("a", &self.a, rows, cols)?;
        let b = MatRef::named("b", &self.b, rows, cols)?;
        device.verification_metrics(a, b, &self.same, &(&self.opts).try_into()?, call)
    }
    fn to_js(v: CoreVerification) -> VerificationResult {
        VerificationResult {
            accuracy: v.accuracy,
            threshold: v.threshold,
            roc_auc: v.roc_auc,
            tar_at_far: v.tar_at_far,
            eer: v.eer,
        }
    }
}

/// Verification metrics of the pairs (a_i, b_i); `same[i]` nonzero when they match.
#[napi]
pub fn verification_metrics(
    a: &[f32],
    b: &[f32],
    rows: u32,
    cols: u32,
    same: &[u8],
    opts: Option<VerificationOptions>,
) -> napi::Result<VerificationResult, Code> {
    run_sync(Verification::new([a, b], same, [rows, cols], opts))
}

/// Async twin of `verificationMetrics`, on a thread of its own; the inputs are copied first.
#[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
#[napi(ts_return_type = "Promise<VerificationResult>")]
#[allow(clippy::too_many_arguments)] // mirrors `verificationMetrics`, plus the env and its token
pub fn verification_metrics_async<'env>(
    env: &'env Env,
    a: &[f32],
    b: &[f32],
    rows: u32,
    cols: u32,
    same: &[u8],
    opts: Option<VerificationOptions>,
    token: Option<&CancelToken>,
) -> napi::Result<Object<'env>> {
    spawn(
        env,
        Verification::new([a, b], same, [rows, cols], opts).owned(),
        token,
    )
}
