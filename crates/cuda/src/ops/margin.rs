//! Per-row triplet terms on a GPU: a warp a row computes its triplet's loss and gradient rows
//! in double (`kernels/margin.cu`), chunks of rows as memory allows; the host sums the losses
//! and adds the gradient rows in row order, as the cpu device does.
use super::too_large;
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{metric_code, MARGIN_TERMS, WARP};
use crate::plan::chunks;
use tripletkit_core::losses::term::TermRule;
use tripletkit_core::{Call, Error, Terms};

/// The primitive `margin_terms`.
pub fn margin_terms(
    gpu: &dyn Gpu,
    device_bytes: usize,
    sides: [&[f32]; 3],
    rows: usize,
    cols: usize,
    rule: &TermRule,
    call: &Call,
) -> Result<Terms, Error> {
    int(rows, "anchor")?;
    int(cols, "anchor")?;
    // A row's three inputs, three gradient rows in double, its loss and flag.
    let per_row = 3 * 4 * cols + 3 * 8 * cols + 12;
    // Chunks of at most 2¹⁶ rows: full grids, and a stop is seen between them.
    let chunk = (device_bytes / per_row.max(1)).min(1 << 16);
    if rows > 0 && chunk == 0 {
        return Err(too_large(per_row));
    }
    let mut losses = Vec::with_capacity(rows);
    let mut grad = vec![0.0f64; 3 * rows * cols];
    let (mut sum, mut active) = (0.0f64, 0usize);
    for (r0, r1) in chunks(rows, chunk) {
        call.stop.check()?;
        let h = r1 - r0;
        let part = |s: &[f32]| Buffer::from_slice(gpu, &s[r0 * cols..r1 * cols]);
        let (a, p, n) = (part(sides[0])?, part(sides[1])?, part(sides[2])?);
        let loss = Buffer::<f64>::uninit(gpu, h)?;
        let has_grad = Buffer::<i32>::uninit(gpu, h)?;
        let g: [Buffer<f64>; 3] = [
            Buffer::uninit(gpu, h * cols)?,
            Buffer::uninit(gpu, h * cols)?,
            Buffer::uninit(gpu, h * cols)?,
        ];
        let mut params = Params::new();
        params
            .buf(&a)
            .buf(&p)
            .buf(&n)
            .int(h as i32)
            .int(cols as i32)
            .int(metric_code(rule.metric))
            .double(rule.margin)
            .int(i32::from(rule.soft_margin))
            .int(i32::from(rule.swap))
            .buf(&loss)
            .buf(&has_grad)
            .buf(&g[0])
            .buf(&g[1])
            .buf(&g[2]);
        // SAFETY: tk_margin_terms' signature; every buffer holds h rows of its kind; a warp a
        // row.
        unsafe { params.launch_over(gpu, MARGIN_TERMS, h * WARP)? };
        let (l, flags) = (loss.to_vec()?, has_grad.to_vec()?);
        let g = [g[0].to_vec()?, g[1].to_vec()?, g[2].to_vec()?];
        for (i, (&li, &flag)) in l.iter().zip(&flags).enumerate() {
            sum += li;
            active += usize::from(li > 0.0);
            losses.push(li);
            if flag == 0 {
                continue;
            }
            // As the cpu's gradient sum: each row's slot added onto zeros.
            for (s, side) in g.iter().enumerate() {
                let dst = &mut grad[(s * rows + r0 + i) * cols..(s * rows + r0 + i + 1) * cols];
                let src = &side[i * cols..(i + 1) * cols];
                dst.iter_mut().zip(src).for_each(|(d, v)| *d += v);
            }
        }
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(Terms {
        sum,
        active,
        losses,
        grad,
    })
}
