//! A multiple negatives ranking pass on a GPU with the matrices left on the device: the
//! distances D(q, c) (tk_distance_tile), each query's softmax and loss (tk_rank_rows), the
//! coefficients of the backward pass (tk_rank_coef) and its products (tk_coef_gemm). What
//! comes back is one loss a row and the two gradients: O((m + n)·d), not O(m·n). A pass whose
//! matrices do not fit the budget is left to core's definition over the chunked primitives.
use super::{backward::products_on, resident_distances, Side};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, RANK_COEF, RANK_ROWS, WARP};
use tripletkit_core::distances::backward::PairwiseGrads;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Call, Error, RowTerms};

/// Bytes the resident pass holds on the device for m queries and n candidates of dim values.
fn footprint(m: usize, n: usize, dim: usize) -> usize {
    // D (f32) and C (f64); both sides' rows and norms, the products' outputs and three
    // per-row f64s.
    m.saturating_mul(n)
        .saturating_mul(12)
        .saturating_add((m + n).saturating_mul(dim).saturating_mul(4 + 8))
        .saturating_add((m + n).saturating_mul(4))
        .saturating_add(m.saturating_mul(24))
}

/// `Device::rank_terms` on the device, or None when its matrices do not fit `device_bytes`.
pub fn rank_terms(
    gpu: &dyn Gpu,
    device_bytes: usize,
    q: &Rows,
    c: &Rows,
    scale: f64,
    weight: f64,
    call: &Call,
) -> Result<Option<RowTerms>, Error> {
    let (m, n, dim) = (q.rows(), c.rows(), q.cols());
    if footprint(m, n, dim) > device_bytes || m == 0 || n == 0 || dim == 0 {
        return Ok(None);
    }
    let (mi, ni, di) = (
        int(m, "anchors")?,
        int(n, "positives")?,
        int(dim, "anchors")?,
    );
    int(m.max(n).saturating_mul(dim), "anchors")?;
    let metric = q.options().metric;
    let (qs, cs) = (Side::upload(gpu, q, 0, m)?, Side::upload(gpu, c, 0, n)?);
    let d = resident_distances(gpu, (&qs, m), (&cs, n), dim, metric, false, call)?;
    let [shift, z, loss] = [(); 3].map(|()| Buffer::<f64>::uninit(gpu, m));
    let (shift, z, loss) = (shift?, z?, loss?);
    let args = |p: &mut Params| {
        p.buf(&d)
            .buf(&qs.data)
            .buf(&cs.data)
            .int(mi)
            .int(ni)
            .int(di)
            .int(metric_code(metric))
            .double(scale)
            .double(weight)
            .buf(&shift)
            .buf(&z);
    };
    let mut p = Params::new();
    args(&mut p);
    p.buf(&loss);
    // SAFETY: tk_rank_rows' signature; `d` holds m × n floats, the rows m and n rows of dim
    // values, the per-row buffers m values.
    unsafe { p.launch_over(gpu, RANK_ROWS, m * WARP)? };
    let losses = loss.to_vec()?;
    call.stop.check()?;
    let coef = Buffer::<f64>::uninit(gpu, m * n)?;
    let mut p = Params::new();
    args(&mut p);
    p.buf(&coef);
    // SAFETY: tk_rank_coef's signature; `coef` holds m × n doubles, the rest as above.
    unsafe { p.launch_over(gpu, RANK_COEF, m * n)? };
    drop(d);
    let (gq, gc) = products_on(gpu, &coef, (&qs.data, m), (&cs.data, n), dim, metric)?;
    Ok(Some(RowTerms {
        losses,
        grads: Some(PairwiseGrads { a: gq, b: Some(gc) }),
    }))
}
