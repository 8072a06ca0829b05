//! `contrastiveLoss` on a GPU: the batch's distance matrix stays on the device, one thread a
//! row sums its pairs' losses (in the cpu's column order), the host reduces the rows in order
//! and picks the sides' scales, and one thread an element computes the gradient through the
//! matrix in closed form. Memory is O(rows²), as on the cpu: the loss is sized for batches.
use super::{distance_tile, row_bytes, too_large, Side};
use crate::gpu::{blocks, int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, CONTRASTIVE_GRAD, CONTRASTIVE_ROWS, THREADS};
use tripletkit_core::distance::Rows;
use tripletkit_core::{
    contrastive, pair, Call, ContrastiveOptions, Error, LossResult, MatRef, Metric,
};

/// A side's pairs: how many, how many active, their losses' sum.
#[derive(Default)]
struct Side3 {
    count: usize,
    active: usize,
    sum: f64,
}

pub fn contrastive_loss(
    gpu: &dyn Gpu,
    memory: usize,
    x: MatRef,
    labels: &[i32],
    o: &ContrastiveOptions,
    call: &Call,
) -> Result<LossResult, Error> {
    let n = x.rows();
    contrastive::check(x, labels, o)?;
    let dim = x.cols();
    int(n, "embeddings")?;
    let dim_i = int(dim, "embeddings")?;
    let zero = |pairs, active| LossResult {
        loss: 0.0,
        grad: vec![0.0; n * dim],
        triplets: pairs,
        active,
    };
    if n == 0 {
        return Ok(zero(0, 0));
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
    if need > memory {
        return Err(too_large(need));
    }
    let rows = Rows::prepare(x, o.distance);
    let side = Side::upload(gpu, &rows, 0, n)?;
    let lab = Buffer::from_slice(gpu, labels)?;
    let d = Buffer::<f32>::uninit(gpu, n * n)?;
    let metric = metric_code(o.distance.metric);
    let all = side.rows_at(0, n, dim, 0);
    distance_tile(gpu, all, all, dim, d.ptr(), n, o.distance.metric, true)?;
    call.stop.check()?;
    let stats = Buffer::<f64>::uninit(gpu, 6 * n)?;
    let mut per_row = Params::new();
    per_row
        .buf(&d)
        .buf(&lab)
        .int(n as i32)
        .double(o.pos_margin)
        .double(o.neg_margin)
        .buf(&stats);
    // SAFETY: tk_contrastive_rows' signature; `stats` holds six values a row.
    unsafe {
        per_row.launch(
            gpu,
            CONTRASTIVE_ROWS,
            [blocks(n, THREADS as usize), 1, 1],
            [THREADS, 1, 1],
        )?
    };
    let (mut pos, mut neg) = (Side3::default(), Side3::default());
    for s in stats.to_vec()?.chunks(6) {
        pos.count += s[0] as usize;
        pos.active += s[1] as usize;
        pos.sum += s[2];
        neg.count += s[3] as usize;
        neg.active += s[4] as usize;
        neg.sum += s[5];
    }
    let scale = |s: &Side3| o.reduction.scale(s.count, s.active).unwrap_or(0.0);
    let (sp, sn) = (scale(&pos), scale(&neg));
    let (pairs, active) = (pos.count + neg.count, pos.active + neg.active);
    if sp == 0.0 && sn == 0.0 {
        return Ok(zero(pairs, active));
    }
    call.stop.check()?;
    let g = Buffer::<f64>::uninit(gpu, n * dim)?;
    let mut back = Params::new();
    back.buf(&side.data)
        .buf(&d)
        .buf(&lab)
        .int(n as i32)
        .int(dim_i)
        .int(metric)
        .double(o.pos_margin)
        .double(o.neg_margin)
        .double(sp)
        .double(sn)
        .buf(&g);
    // SAFETY: tk_contrastive_grad's signature; `g` holds n·dim values (n·dim < 2³¹, checked).
    unsafe {
        back.launch(
            gpu,
            CONTRASTIVE_GRAD,
            [blocks(n * dim, THREADS as usize), 1, 1],
            [THREADS, 1, 1],
        )?
    };
    let mut grad = g.to_vec()?;
    if o.distance.normalize || o.distance.metric == Metric::Cosine {
        pair::normalize_backward(x.data(), dim, &mut grad);
    }
    Ok(LossResult {
        loss: pos.sum * sp + neg.sum * sn,
        grad: grad.into_iter().map(pair::grad_to_f32).collect(),
        triplets: pairs,
        active,
    })
}
