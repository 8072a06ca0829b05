//! Batch-hard mining on a GPU: the fused kernel keeps per anchor only the farthest positive
//! and the nearest negative, so memory is O(rows + cols) whatever the batch. Its grid splits
//! the columns as well as the rows, so that a launch has about 4,096 blocks (at least 4
//! waves on an H200 or an A100) however few rows a chunk has (`column_span`); the column spans
//! merge through atomics on packed keys.
use super::{row_bytes, rows_for_work, too_large, Batch, Side};
use crate::gpu::{blocks, Buffer, Gpu, Params, Reading};
use crate::kernels::{metric_code, BATCH_HARD, THREADS, TILE};
use crate::plan::{chunks, plan, smallest, Footprint};
use tripletkit_core::{Call, Error, Triplets};

/// Per anchor of `x`, the farthest positive and the nearest negative among the rows of `x`
/// (a row is never its own positive) or of the reference. Arguments are checked by the
/// caller.
pub fn batch_hard(
    gpu: &dyn Gpu,
    device_bytes: usize,
    b: &tripletkit_core::Batch,
    call: &Call,
) -> Result<Triplets, Error> {
    let (labels, metric) = (b.labels, &b.metric);
    let math = gpu.math().get().code();
    let batch = Batch::of(b);
    let (pa, cand, cand_labels) = (&batch.anchors, batch.candidates(), batch.cand_labels);
    let mut t = Triplets::default();
    let Some((rows, cols, dim)) = batch.shape()? else {
        return Ok(t);
    };
    let dim_i = dim as i32;
    let f = Footprint {
        // Values and norm, label, and two keys.
        per_row: row_bytes(dim) + 4 + 16,
        per_col: row_bytes(dim) + 4,
        per_cell: 0,
    };
    let p = plan(
        rows,
        cols,
        f,
        device_bytes,
        rows_for_work(cols, dim, gpu.chunk_macs()),
        usize::MAX,
    )
    .ok_or_else(|| too_large(smallest(rows, cols, f)))?;
    let whole = if p.cols >= cols {
        Some((
            Side::upload(gpu, cand, 0, cols)?,
            Buffer::from_slice(gpu, cand_labels)?,
        ))
    } else {
        None
    };
    // Each row chunk's keys are copied back as soon as its launches are queued, and read once
    // the next chunk's are: the GPU runs that chunk while the host merges this one.
    let mut behind: Option<(usize, Reading<u64>)> = None;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        let ua = Side::upload(gpu, pa, r0, r1)?;
        let la = Buffer::from_slice(gpu, &labels[r0..r1])?;
        // Farthest positives then nearest negatives, one read. No extreme yet: the least key
        // for a maximum, the greatest for a minimum.
        let keys = Buffer::<u64>::filled(gpu, 2 * h, 0)?;
        let neg_key = keys.ptr() + 8 * h as u64;
        // SAFETY: the second half of `keys` is h keys.
        unsafe { gpu.fill(neg_key, 0xff, 8 * h)? };
        for (c0, c1) in chunks(cols, p.cols) {
            let part;
            let (ub, lb) = match &whole {
                Some((s, l)) => (s, l),
                None => {
                    part = (
                        Side::upload(gpu, cand, c0, c1)?,
                        Buffer::from_slice(gpu, &cand_labels[c0..c1])?,
                    );
                    (&part.0, &part.1)
                }
            };
            let span = super::column_span(h, c1 - c0);
            let grid = [blocks(h, TILE), blocks(c1 - c0, span), 1];
            // SAFETY: the parameters follow tk_batch_hard's signature; the anchors' buffers
            // hold h rows and the candidates' c1 − c0, the keys h each.
            unsafe {
                Params::new()
                    .buf(&ua.data)
                    .buf(&ua.norms)
                    .buf(&la)
                    .int(h as i32)
                    .buf(&ub.data)
                    .buf(&ub.norms)
                    .buf(lb)
                    .int((c1 - c0) as i32)
                    .int(dim_i)
                    .int(r0 as i32)
                    .int(c0 as i32)
                    .int(metric_code(metric.metric))
                    .int(i32::from(batch.self_mode))
                    .int(span as i32)
                    .buf(&keys)
                    .ptr(neg_key)
                    .int(math)
                    .launch(gpu, BATCH_HARD, grid, [THREADS, 1, 1])?;
            }
        }
        if let Some((r0, keys)) = behind.replace((r0, keys.read_later()?)) {
            read_keys(&mut t, r0, keys)?;
        }
        call.advance(h, rows);
    }
    if let Some((r0, keys)) = behind {
        read_keys(&mut t, r0, keys)?;
    }
    call.stop.check()?;
    Ok(t)
}

/// Adds a row chunk's triplets, from its keys (farthest positives, then nearest negatives).
fn read_keys(t: &mut Triplets, r0: usize, keys: Reading<u64>) -> Result<(), Error> {
    let keys = keys.wait()?;
    let (pk, nk) = keys.split_at(keys.len() / 2);
    for (i, (&p, &n)) in pk.iter().zip(nk).enumerate() {
        if p != 0 && n != u64::MAX {
            t.anchor.push((r0 + i) as i32);
            t.positive.push((u32::MAX - p as u32) as i32);
            t.negative.push(n as u32 as i32);
        }
    }
    Ok(())
}
