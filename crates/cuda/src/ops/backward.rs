//! The gradient through a matrix of distances D(queries, candidates) on a GPU, given the
//! coefficients C of core's `backward::coefficients`: the two products (∂queries =
//! C·candidates, ∂candidates = Cᵀ·queries) by `kernels/backward.cu`.
use super::too_large;
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::COEF_GEMM;
use tripletkit_core::distances::backward::PairwiseGrads;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Error, Metric};

/// (∂L/∂q, ∂L/∂c) in double with respect to the prepared rows, from the coefficients `coef`
/// (row-major q.rows × c.rows); `c = None`: D(q, q), and the two sides summed.
pub fn backward(
    gpu: &dyn Gpu,
    device_bytes: usize,
    q: &Rows,
    c: Option<&Rows>,
    coef: &[f64],
) -> Result<PairwiseGrads, Error> {
    let cand = c.unwrap_or(q);
    let (m, n, dim) = (q.rows(), cand.rows(), q.cols());
    let zeros = |rows: usize| vec![0.0f64; rows * dim];
    let (gq, gk) = if m == 0 || n == 0 || dim == 0 {
        (zeros(m), zeros(n))
    } else {
        products(gpu, device_bytes, q, cand, coef)?
    };
    Ok(match c {
        Some(_) => PairwiseGrads { a: gq, b: Some(gk) },
        None => PairwiseGrads {
            a: gq.iter().zip(&gk).map(|(x, y)| x + y).collect(),
            b: None,
        },
    })
}

/// The two products C·c and Cᵀ·q, less the row sums times the row itself for the euclidean
/// family (m, n and dim > 0).
fn products(
    gpu: &dyn Gpu,
    device_bytes: usize,
    q: &Rows,
    c: &Rows,
    coef: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let (m, n, dim) = (q.rows(), c.rows(), q.cols());
    let need = m
        .saturating_mul(n)
        .saturating_mul(8)
        .saturating_add((m + n).saturating_mul(dim).saturating_mul(12));
    if need > device_bytes {
        return Err(too_large(need));
    }
    int(m.max(n).saturating_mul(dim), "rows")?;
    let cb = Buffer::from_slice(gpu, coef)?;
    let (qb, kb) = (
        Buffer::from_slice(gpu, q.data())?,
        Buffer::from_slice(gpu, c.data())?,
    );
    products_on(gpu, &cb, (&qb, m), (&kb, n), dim, q.options().metric)
}

/// The two products with everything already on the device: the coefficients `cb` (m × n),
/// the query rows `qb` (m × dim) and the candidate rows `kb` (n × dim).
pub fn products_on(
    gpu: &dyn Gpu,
    cb: &Buffer<f64>,
    (qb, m): (&Buffer<f32>, usize),
    (kb, n): (&Buffer<f32>, usize),
    dim: usize,
    metric: Metric,
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let squared = matches!(metric, Metric::Euclidean | Metric::SqEuclidean);
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
        p.buf(cb)
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
        unsafe { p.launch_over(gpu, COEF_GEMM, rows * dim)? };
        out.to_vec()
    };
    let gq = product(n, 1, kb, qb, n, m)?;
    let gk = product(1, n, qb, kb, m, n)?;
    Ok((gq, gk))
}
