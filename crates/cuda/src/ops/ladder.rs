//! ladderLoss on a GPU with the matrices left on the device: the distances D(q, c)
//! (tk_distance_tile), each query's rungs and its row of coefficients (tk_ladder_rows, a warp
//! a query), and the backward products (tk_coef_gemm). The relevance goes up, as an input
//! must; what comes back is one loss a query and the two gradients. A call whose matrices do
//! not fit the budget is left to core's definition over the chunked primitives.
use super::{backward::products_on, resident_distances, Side};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, LADDER_ROWS, WARP};
use tripletkit_core::distances::backward::PairwiseGrads;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Call, Error, LadderOptions, MatRef, RowTerms};

/// Bytes the resident pass holds for nq queries and nc candidates of dim values.
fn footprint(nq: usize, nc: usize, dim: usize) -> usize {
    // D and the relevance (f32), C (f64); both sides' rows and norms, the products' outputs.
    nq.saturating_mul(nc)
        .saturating_mul(16)
        .saturating_add((nq + nc).saturating_mul(dim).saturating_mul(4 + 8))
        .saturating_add((nq + nc).saturating_mul(4))
        .saturating_add(nq.saturating_mul(8))
}

/// `Device::ladder_terms` on the device, or None when its matrices do not fit `device_bytes`.
pub fn ladder_terms(
    gpu: &dyn Gpu,
    device_bytes: usize,
    q: &Rows,
    c: &Rows,
    relevance: MatRef,
    o: &LadderOptions,
    call: &Call,
) -> Result<Option<RowTerms>, Error> {
    let (nq, nc, dim) = (q.rows(), c.rows(), q.cols());
    if footprint(nq, nc, dim) > device_bytes || nq == 0 || nc == 0 || dim == 0 {
        return Ok(None);
    }
    let (qi, ci, di) = (
        int(nq, "queries")?,
        int(nc, "candidates")?,
        int(dim, "queries")?,
    );
    int(nq.max(nc).saturating_mul(dim), "queries")?;
    let metric = q.options().metric;
    let (qs, cs) = (Side::upload(gpu, q, 0, nq)?, Side::upload(gpu, c, 0, nc)?);
    let d = resident_distances(gpu, (&qs, nq), (&cs, nc), dim, metric, false, call)?;
    let rungs = o.thresholds.len();
    let weights = match o.weights.is_empty() {
        true => vec![1.0; rungs],
        false => o.weights.clone(),
    };
    let rel = Buffer::from_slice(gpu, relevance.data())?;
    let (tb, mb, wb) = (
        Buffer::from_slice(gpu, &o.thresholds)?,
        Buffer::from_slice(gpu, &o.margins)?,
        Buffer::from_slice(gpu, &weights)?,
    );
    let coef = Buffer::<f64>::uninit(gpu, nq * nc)?;
    let loss = Buffer::<f64>::uninit(gpu, nq)?;
    let mut p = Params::new();
    p.buf(&d)
        .buf(&qs.data)
        .buf(&cs.data)
        .buf(&rel)
        .int(qi)
        .int(ci)
        .int(di)
        .int(metric_code(metric))
        .buf(&tb)
        .buf(&mb)
        .buf(&wb)
        .int(int(rungs, "opts.thresholds")?)
        .int(i32::from(o.hardest))
        .buf(&coef)
        .buf(&loss);
    // SAFETY: tk_ladder_rows' signature; `d`, `rel` and `coef` hold nq × nc values, the rows
    // nq and nc rows of dim values, the rung arrays `rungs` values, `loss` nq.
    unsafe { p.launch_over(gpu, LADDER_ROWS, nq * WARP)? };
    drop(d);
    let losses = loss.to_vec()?;
    call.stop.check()?;
    let (gq, gc) = products_on(gpu, &coef, (&qs.data, nq), (&cs.data, nc), dim, metric)?;
    Ok(Some(RowTerms {
        losses,
        grads: Some(PairwiseGrads { a: gq, b: Some(gc) }),
    }))
}
