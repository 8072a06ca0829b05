//! supConLoss's terms on a GPU with the N × N matrices left on the device: the cosine
//! distances (tk_distance_tile), each anchor's softmax and loss (tk_supcon_rows), the
//! coefficients of the backward pass at the op's weights (tk_supcon_coef) and its products
//! (tk_coef_gemm). What crosses the bus is one loss and one weight a row, and the gradient:
//! O(N·d), not O(N²). A batch whose matrices
//! do not fit the budget is left to core's definition over the chunked primitives.
use super::{backward::products_on, resident_distances, Side};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{SUPCON_COEF, SUPCON_ROWS, WARP};
use tripletkit_core::distances::backward::PairwiseGrads;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Call, Error, Metric, RowTerms, RowWeights};

/// Bytes the resident pass holds on the device for `n` rows of `dim` values.
fn footprint(n: usize, dim: usize) -> usize {
    let cells = n.saturating_mul(n);
    // D (f32) and C (f64); the rows, their norms, labels, counts and four per-row f64s; the
    // two products' outputs.
    cells
        .saturating_mul(12)
        .saturating_add(n.saturating_mul(dim).saturating_mul(4 + 16))
        .saturating_add(n.saturating_mul(4 + 4 + 4 + 32))
}

/// `Device::sup_con_terms` on the device, or None when its matrices do not fit
/// `device_bytes`. `x` holds unit rows (cosine), at least two of them.
pub fn sup_con_terms(
    gpu: &dyn Gpu,
    device_bytes: usize,
    x: &Rows,
    (labels, positives): (&[i32], &[u32]),
    temperature: f64,
    weights: RowWeights,
    call: &Call,
) -> Result<Option<RowTerms>, Error> {
    let (n, dim) = (x.rows(), x.cols());
    if footprint(n, dim) > device_bytes || n == 0 || dim == 0 {
        return Ok(None);
    }
    let ni = int(n, "embeddings")?;
    int(dim, "embeddings")?;
    let side = Side::upload(gpu, x, 0, n)?;
    let d = resident_distances(gpu, (&side, n), (&side, n), dim, Metric::Cosine, true, call)?;
    let (lb, pb) = (
        Buffer::from_slice(gpu, labels)?,
        Buffer::from_slice(gpu, positives)?,
    );
    let [shift, z, loss] = [(); 3].map(|()| Buffer::<f64>::uninit(gpu, n));
    let (shift, z, loss) = (shift?, z?, loss?);
    let args = |p: &mut Params| {
        p.buf(&d)
            .buf(&lb)
            .buf(&pb)
            .int(ni)
            .double(temperature)
            .buf(&shift)
            .buf(&z)
            .buf(&loss);
    };
    let mut p = Params::new();
    args(&mut p);
    // SAFETY: tk_supcon_rows' signature; `d` holds n × n floats, the per-row buffers n values.
    unsafe { p.launch_over(gpu, SUPCON_ROWS, n * WARP)? };
    let losses = loss.to_vec()?;
    let w = weights(&losses);
    if w.len() != n {
        return Err(Error::Internal(format!(
            "supConLoss: {} weights for {n} rows",
            w.len()
        )));
    }
    if w.iter().all(|&v| v == 0.0) {
        return Ok(Some(RowTerms {
            losses,
            grads: None,
        }));
    }
    call.stop.check()?;
    let wb = Buffer::from_slice(gpu, &w)?;
    let coef = Buffer::<f64>::uninit(gpu, n * n)?;
    let mut p = Params::new();
    args(&mut p);
    p.buf(&wb).buf(&coef);
    // SAFETY: tk_supcon_coef's signature; `coef` holds n × n doubles, the rest as above.
    unsafe { p.launch_over(gpu, SUPCON_COEF, n * n)? };
    drop(d);
    // D(x, x): both products are through x, and the gradient is their sum.
    let (gq, gk) = products_on(
        gpu,
        &coef,
        (&side.data, n),
        (&side.data, n),
        dim,
        Metric::Cosine,
    )?;
    let a = gq.iter().zip(&gk).map(|(a, b)| a + b).collect();
    Ok(Some(RowTerms {
        losses,
        grads: Some(PairwiseGrads { a, b: None }),
    }))
}
