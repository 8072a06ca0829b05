//! Pair distances on a GPU: a warp a pair computes its distance exactly
//! (`kernels/verification.cu`), chunks of pairs as memory allows.
use super::too_large;
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, PAIR_DISTANCES, WARP};
use crate::plan::chunks;
use tripletkit_core::{Call, Error, Metric};

/// The primitive `pair_distances`.
pub fn pair_distances(
    gpu: &dyn Gpu,
    device_bytes: usize,
    [ua, ub]: [&[f32]; 2],
    rows: usize,
    cols: usize,
    metric: Metric,
    call: &Call,
) -> Result<Vec<f64>, Error> {
    int(rows, "a")?;
    int(cols, "a")?;
    let chunk = (device_bytes / (8 * cols + 8).max(1)).min(1 << 22);
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
            .int(metric_code(metric))
            .buf(&out);
        // SAFETY: tk_pair_distances' signature; `pa` and `pb` hold h rows, `out` h values; a
        // warp a pair.
        unsafe { params.launch_over(gpu, PAIR_DISTANCES, h * WARP)? };
        d.extend(out.to_vec()?);
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(d)
}
