//! The gradient through a matrix of distances D(queries, candidates) on a GPU, given ∂L/∂D:
//! the coefficients of core's `backward::pairwise_backward`, then its two products
//! (∂queries = C·candidates, ∂candidates = Cᵀ·queries) by `kernels/backward.cu`, then the
//! normalisation's backward pass on the host. The losses built on a similarity matrix
//! (ranking, ladder) use it.
use super::too_large;
use crate::gpu::{blocks, int, Buffer, Gpu, Params};
use crate::kernels::{COEF_GEMM, THREADS};
use std::borrow::Cow;
use tripletkit_core::{backward, pair, Error, MatRef, Metric, MetricOptions};

/// (∂L/∂queries, ∂L/∂candidates) in double, from `g` = ∂L/∂D and `d` = D, row-major
/// queries × candidates.
pub fn backward_products(
    gpu: &dyn Gpu,
    memory: usize,
    q: MatRef,
    c: MatRef,
    metric: &MetricOptions,
    d: &[f32],
    g: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let (m, n, dim) = (q.rows(), c.rows(), q.cols());
    if m == 0 || n == 0 || dim == 0 {
        return Ok((vec![0.0; m * dim], vec![0.0; n * dim]));
    }
    let need = m
        .saturating_mul(n)
        .saturating_mul(8)
        .saturating_add((m + n).saturating_mul(dim).saturating_mul(12));
    if need > memory {
        return Err(too_large(need));
    }
    int(m.max(n).saturating_mul(dim), "rows")?;
    let squared = matches!(metric.metric, Metric::Euclidean | Metric::SqEuclidean);
    let coef = backward::coefficients(metric.metric, g, d);
    let unit = metric.normalize || metric.metric == Metric::Cosine;
    let (pq, pc) = (prepared(q, unit), prepared(c, unit));
    let cb = Buffer::from_slice(gpu, &coef)?;
    let (qb, kb) = (Buffer::from_slice(gpu, &pq)?, Buffer::from_slice(gpu, &pc)?);
    // out (rows × dim) = C·rhs at strides (ldr, ldc) over `inner` terms, less the row sums
    // times the row itself for the euclidean family.
    let product = |ldr: usize,
                   ldc: usize,
                   rhs: &Buffer<f32>,
                   own: &Buffer<f32>,
                   inner: usize,
                   rows: usize| {
        let out = Buffer::<f64>::uninit(gpu, rows * dim)?;
        let mut p = Params::new();
        p.buf(&cb)
            .ptr(ldr as u64)
            .ptr(ldc as u64)
            .buf(rhs)
            .int(inner as i32)
            .int(rows as i32)
            .int(dim as i32)
            .buf(own)
            .int(i32::from(squared))
            .buf(&out);
        // SAFETY: tk_coef_gemm's signature (the strides as 64-bit integers); `cb` holds m·n
        // values read at the strides given, `rhs` inner rows, `own` and `out` rows rows.
        unsafe {
            p.launch(
                gpu,
                COEF_GEMM,
                [blocks(rows * dim, THREADS as usize), 1, 1],
                [THREADS, 1, 1],
            )?
        };
        out.to_vec()
    };
    let mut gq = product(n, 1, &kb, &qb, n, m)?;
    let mut gk = product(1, n, &qb, &kb, m, n)?;
    if unit {
        pair::normalize_backward(q.data(), dim, &mut gq);
        pair::normalize_backward(c.data(), dim, &mut gk);
    }
    Ok((gq, gk))
}

/// The rows as the backward pass reads them: unit rows for cosine or `normalize`.
fn prepared(x: MatRef<'_>, unit: bool) -> Cow<'_, [f32]> {
    if unit {
        Cow::Owned(pair::normalize_rows(x.data(), x.cols()))
    } else {
        Cow::Borrowed(x.data())
    }
}
