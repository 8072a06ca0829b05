//! `verificationMetrics` on a GPU: one thread a pair computes its distance exactly
//! (`kernels/verification.cu`), chunks of pairs as memory allows; the host sorts the
//! distances and sweeps the thresholds with the core's code.
use super::too_large;
use crate::gpu::{blocks, int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, PAIR_DISTANCES, THREADS};
use crate::plan::chunks;
use std::borrow::Cow;
use tripletkit_core::{pair, verification, Call, Error, MatRef, Verification, VerificationOptions};

pub fn verification_metrics(
    gpu: &dyn Gpu,
    memory: usize,
    a: MatRef,
    b: MatRef,
    same: &[u8],
    o: &VerificationOptions,
    call: &Call,
) -> Result<Verification, Error> {
    verification::check(a, b, same, o)?;
    let (rows, cols) = (a.rows(), a.cols());
    int(rows, "a")?;
    int(cols, "a")?;
    let [ua, ub]: [Cow<[f32]>; 2] = [a, b].map(|m| {
        if o.distance.normalize {
            Cow::Owned(pair::normalize_rows(m.data(), cols))
        } else {
            Cow::Borrowed(m.data())
        }
    });
    let chunk = (memory / (8 * cols + 8).max(1)).min(1 << 22);
    if chunk == 0 {
        return Err(too_large(8 * cols + 8));
    }
    let mut d = Vec::with_capacity(rows);
    for (r0, r1) in chunks(rows, chunk) {
        call.stop.check()?;
        let h = r1 - r0;
        let pa = Buffer::from_slice(gpu, &ua[r0 * cols..r1 * cols])?;
        let pb = Buffer::from_slice(gpu, &ub[r0 * cols..r1 * cols])?;
        let out = Buffer::<f64>::uninit(gpu, h)?;
        let mut params = Params::new();
        params
            .buf(&pa)
            .buf(&pb)
            .int(h as i32)
            .int(cols as i32)
            .int(metric_code(o.distance.metric))
            .buf(&out);
        // SAFETY: tk_pair_distances' signature; `pa` and `pb` hold h rows, `out` h values.
        unsafe {
            params.launch(
                gpu,
                PAIR_DISTANCES,
                [blocks(h, THREADS as usize), 1, 1],
                [THREADS, 1, 1],
            )?
        };
        d.extend(out.to_vec()?);
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(verification::from_distances(&d, same, o.far))
}
