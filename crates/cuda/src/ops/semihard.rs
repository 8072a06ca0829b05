//! Batch-semihard mining on a GPU: the distance kernel writes a chunk of anchors' whole rows,
//! then one block an anchor picks each positive's semi-hard negative. The positives and the
//! output offsets follow from the labels alone, so the host lays them out first and the
//! kernel writes only the negatives.
use super::classes::Classes;
use super::{distance_tile, row_bytes, rows_for_work, too_large, Batch, Side, MAX_GRID_Y_ROWS};
use crate::gpu::{Buffer, Gpu, Params};
use crate::kernels::{SEMIHARD, THREADS, TILE};
use crate::plan::{chunks, plan_whole_rows, Footprint, Plan};
use std::collections::HashMap;
use tripletkit_core::{Call, Error, MatRef, MetricOptions, Triplets};

/// Semi-hard triplets, one per (anchor, positive) whose anchor has a negative, in anchor then
/// positive order. Arguments and the triplet count are checked by the caller.
pub fn batch_semihard(
    gpu: &dyn Gpu,
    memory: usize,
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    metric: &MetricOptions,
    call: &Call,
) -> Result<Triplets, Error> {
    let batch = Batch::prepare(x, labels, reference, metric);
    let (pa, cand, cand_labels) = (&batch.anchors, batch.candidates(), batch.cand_labels);
    let mut t = Triplets::default();
    let Some((rows, cols, dim)) = batch.shape()? else {
        return Ok(t);
    };
    let self_mode = batch.self_mode;
    let classes = Classes::of(cand_labels);
    // Positives an anchor yields triplets for: none when it has no negative at all.
    let yields = |a: usize| -> usize {
        let p = classes.positives(a, labels[a], self_mode).count();
        let same = classes.ids.get(&labels[a]).map_or(0, |&c| {
            (classes.start[c as usize + 1] - classes.start[c as usize]) as usize
        });
        if same < cols {
            p
        } else {
            0
        }
    };
    let f = Footprint {
        // Values and norm, class and output offset, and the anchor's whole row of distances.
        per_row: row_bytes(dim) + 12 + 4 * cols,
        per_col: row_bytes(dim) + 12,
        per_cell: 0,
    };
    let max_rows = MAX_GRID_Y_ROWS.min(rows_for_work(cols, dim, gpu.chunk_macs()));
    let p = plan_whole_rows(rows, cols, f, memory, max_rows).ok_or_else(|| {
        too_large(f.bytes(Plan {
            rows: rows.clamp(1, TILE),
            cols,
        }))
    })?;
    let side = Side::upload(gpu, cand, 0, cols)?;
    let cand_class = Buffer::from_slice(gpu, &classes.cand_class)?;
    let start = Buffer::from_slice(gpu, &classes.start)?;
    let members = Buffer::from_slice(gpu, &classes.members)?;
    let scratch = Buffer::<f32>::uninit(gpu, p.rows * cols)?;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        let ua = Side::upload(gpu, pa, r0, r1)?;
        let (ra, rb) = (ua.rows_at(0, h, dim, r0), side.rows_at(0, cols, dim, 0));
        distance_tile(
            gpu,
            ra,
            rb,
            dim,
            scratch.ptr(),
            cols,
            metric.metric,
            self_mode,
        )?;
        let mut anchor_class = Vec::with_capacity(h);
        let mut out_start = Vec::with_capacity(h);
        let mut total = 0i64;
        for (a, label) in labels.iter().enumerate().take(r1).skip(r0) {
            let n = yields(a);
            anchor_class.push(if n > 0 { classes.ids[label] } else { -1 });
            out_start.push(total);
            total += n as i64;
        }
        if total > 0 {
            let out = Buffer::<i32>::uninit(gpu, total as usize)?;
            let ac = Buffer::from_slice(gpu, &anchor_class)?;
            let os = Buffer::from_slice(gpu, &out_start)?;
            // SAFETY: tk_semihard's signature; `scratch` holds the h rows of cols distances,
            // `out` exactly the negatives `out_start` lays out.
            unsafe {
                Params::new()
                    .buf(&scratch)
                    .int(cols as i32)
                    .buf(&cand_class)
                    .buf(&ac)
                    .int(r0 as i32)
                    .int(i32::from(self_mode))
                    .buf(&start)
                    .buf(&members)
                    .buf(&os)
                    .buf(&out)
                    .launch(gpu, SEMIHARD, [h as u32, 1, 1], [THREADS, 1, 1])?;
            }
            let negatives = out.to_vec()?;
            let mut next = negatives.iter();
            for a in r0..r1 {
                if anchor_class[a - r0] < 0 {
                    continue;
                }
                for p in classes.positives(a, labels[a], self_mode) {
                    t.anchor.push(a as i32);
                    t.positive.push(p);
                    t.negative
                        .push(*next.next().expect("one negative a positive"));
                }
            }
        }
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(t)
}

/// The triplets batch-semihard yields for these labels: one per positive of each anchor that
/// has a negative.
pub fn count(labels: &[i32], reference: Option<&[i32]>) -> usize {
    let cand = reference.unwrap_or(labels);
    let mut size: HashMap<i32, usize> = HashMap::new();
    for &l in cand {
        *size.entry(l).or_default() += 1;
    }
    let self_mode = usize::from(reference.is_none());
    labels
        .iter()
        .map(|l| {
            let same = size.get(l).copied().unwrap_or(0);
            if same < cand.len() {
                same.saturating_sub(self_mode)
            } else {
                0
            }
        })
        .sum()
}
