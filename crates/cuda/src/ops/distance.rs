//! The distance matrix on a GPU: one tile kernel, a chunk of rows × a chunk of columns a
//! launch, each chunk copied into its place in the result.
use super::{distance_tile, row_bytes, rows_for_work, too_large, Side, MAX_GRID_Y_ROWS};
use crate::gpu::{int, Buffer, Gpu};
use crate::plan::{chunks, plan, smallest, Footprint};
use tripletkit_core::distances::Rows;
use tripletkit_core::{runtime::budget, Call, Error};

/// D(pa, pb), or D(pa, pa) with an exact-zero diagonal when `pb` is None.
pub fn distances(
    gpu: &dyn Gpu,
    device_bytes: usize,
    pa: &Rows,
    pb: Option<&Rows>,
    call: &Call,
) -> Result<Vec<f32>, Error> {
    let cand = pb.unwrap_or(pa);
    let metric = pa.options().metric;
    let math = gpu.math().get();
    let (rows, cols, dim) = (pa.rows(), cand.rows(), pa.cols());
    let bytes = rows.saturating_mul(cols).saturating_mul(4);
    let _held = budget::reserve(bytes, "pairwiseDistances")?;
    let mut out = vec![0.0f32; rows * cols];
    if rows == 0 || cols == 0 {
        return Ok(out);
    }
    let f = Footprint {
        per_row: row_bytes(dim),
        per_col: row_bytes(dim),
        per_cell: 4,
    };
    let p = plan(
        rows,
        cols,
        f,
        device_bytes,
        MAX_GRID_Y_ROWS.min(rows_for_work(cols, dim, gpu.chunk_macs())),
        usize::MAX,
    )
    .ok_or_else(|| too_large(smallest(rows, cols, f)))?;
    int(dim, "a")?;
    int(rows.max(cols), "a")?;
    let whole = if p.cols >= cols {
        Some(Side::upload(gpu, cand, 0, cols)?)
    } else {
        None
    };
    let scratch = Buffer::<f32>::uninit(gpu, p.rows * p.cols)?;
    let mut tile = Vec::new();
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let ua = Side::upload(gpu, pa, r0, r1)?;
        for (c0, c1) in chunks(cols, p.cols) {
            let part;
            let ub = match &whole {
                Some(w) => w,
                None => {
                    part = Side::upload(gpu, cand, c0, c1)?;
                    &part
                }
            };
            let (h, w) = (r1 - r0, c1 - c0);
            let ra = ua.rows_at(0, h, dim, r0);
            let rb = ub.rows_at(0, w, dim, c0);
            distance_tile(
                gpu,
                ra,
                rb,
                dim,
                scratch.ptr(),
                w,
                metric,
                math,
                pb.is_none(),
            )?;
            if w == cols {
                scratch.download_into(&mut out[r0 * cols..r1 * cols])?;
            } else {
                tile.resize(h * w, 0.0);
                scratch.download_into(&mut tile)?;
                for (i, row) in tile.chunks(w).enumerate() {
                    out[(r0 + i) * cols + c0..(r0 + i) * cols + c1].copy_from_slice(row);
                }
            }
        }
        call.advance(r1 - r0, rows);
    }
    call.stop.check()?;
    Ok(out)
}
