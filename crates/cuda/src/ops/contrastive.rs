//! The pair hinge (contrastive loss's pairs) on a GPU: the batch's distance matrix stays on
//! the device, one thread a row sums its pairs' losses (in the cpu's column order), the host
//! reduces the rows in order and asks the op for the sides' scales, and one thread an element
//! computes the gradient through the matrix in closed form. Memory is O(rows²), as on the
//! cpu: the loss is sized for batches.
use super::{distance_tile, row_bytes, too_large, Side};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, CONTRASTIVE_GRAD, CONTRASTIVE_ROWS, WARP};
use tripletkit_core::device::HingeScales;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Call, Error, Hinge, HingeSide};

/// The primitive `pair_hinge`.
pub fn pair_hinge(
    gpu: &dyn Gpu,
    device_bytes: usize,
    rows: &Rows,
    labels: &[i32],
    [pos_margin, neg_margin]: [f64; 2],
    scales: HingeScales,
    call: &Call,
) -> Result<Hinge, Error> {
    let (n, dim) = (rows.rows(), rows.cols());
    int(n, "embeddings")?;
    let dim_i = int(dim, "embeddings")?;
    let mut h = Hinge::default();
    if n == 0 {
        return Ok(h);
    }
    let need = n
        .saturating_mul(n)
        .saturating_mul(4)
        .saturating_add(n.saturating_mul(row_bytes(dim) + 4 + 48 + 8 * dim));
    if n > (i32::MAX as usize) / dim.max(1) {
        return Err(Error::invalid(
            "embeddings",
            format!("expected fewer than 2³¹ values on device 'cuda', received {n} × {dim}"),
        ));
    }
    if need > device_bytes {
        return Err(too_large(need));
    }
    let metric = rows.options().metric;
    let side = Side::upload(gpu, rows, 0, n)?;
    let lab = Buffer::from_slice(gpu, labels)?;
    let d = Buffer::<f32>::uninit(gpu, n * n)?;
    let all = side.rows_at(0, n, dim, 0);
    distance_tile(
        gpu,
        all,
        all,
        dim,
        d.ptr(),
        n,
        metric,
        gpu.math().get(),
        true,
    )?;
    call.stop.check()?;
    let stats = Buffer::<f64>::uninit(gpu, 6 * n)?;
    let mut per_row = Params::new();
    per_row
        .buf(&side.data)
        .buf(&d)
        .buf(&lab)
        .int(n as i32)
        .int(dim_i)
        .int(metric_code(metric))
        .double(pos_margin)
        .double(neg_margin)
        .buf(&stats);
    // SAFETY: tk_contrastive_rows' signature; `stats` holds six values a row.
    unsafe { per_row.launch_over(gpu, CONTRASTIVE_ROWS, n * WARP)? };
    for s in stats.to_vec()?.chunks(6) {
        h.pos.merge(&HingeSide {
            count: s[0] as usize,
            active: s[1] as usize,
            sum: s[2],
        });
        h.neg.merge(&HingeSide {
            count: s[3] as usize,
            active: s[4] as usize,
            sum: s[5],
        });
    }
    let [sp, sn] = scales(&h.pos, &h.neg);
    if sp == 0.0 && sn == 0.0 {
        return Ok(h);
    }
    call.stop.check()?;
    let g = Buffer::<f64>::uninit(gpu, n * dim)?;
    let mut back = Params::new();
    back.buf(&side.data)
        .buf(&d)
        .buf(&lab)
        .int(n as i32)
        .int(dim_i)
        .int(metric_code(metric))
        .double(pos_margin)
        .double(neg_margin)
        .double(sp)
        .double(sn)
        .buf(&g);
    // SAFETY: tk_contrastive_grad's signature; `g` holds n·dim values (n·dim < 2³¹, checked).
    unsafe { back.launch_over(gpu, CONTRASTIVE_GRAD, n * dim)? };
    h.grad = Some(g.to_vec()?);
    Ok(h)
}
