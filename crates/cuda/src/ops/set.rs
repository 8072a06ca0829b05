//! Set mining on a GPU ('all', 'violating', 'hard', 'semihard', 'easy'): a chunk of anchors'
//! rows of distances, then one thread an (anchor, positive) pair counts its negatives; the
//! host refuses past `max_triplets` before anything is allocated for the output, lays the
//! pairs' outputs end to end, and a second launch writes them. The result is in anchor,
//! positive, negative order, as the cpu device gives it.
use super::classes::Classes;
use super::{distance_tile, row_bytes, rows_for_work, too_large, Batch, Side, MAX_GRID_Y_ROWS};
use crate::gpu::{blocks, int, Buffer, Gpu, Params};
use crate::kernels::{SET_COUNT, SET_FILL, THREADS, TILE};
use crate::plan::{chunks, plan_whole_rows, Footprint, Plan};
use tripletkit_core::{runtime::budget, Call, Error, MineOptions, Strategy, Triplets};

fn strategy_code(s: Strategy) -> i32 {
    match s {
        Strategy::All => 0,
        Strategy::Violating => 1,
        Strategy::Hard => 2,
        Strategy::Semihard => 3,
        _ => 4,
    }
}

/// Arguments are checked by the caller; `o.strategy` is a set strategy.
pub fn mine_set(
    gpu: &dyn Gpu,
    device_bytes: usize,
    b: &tripletkit_core::Batch,
    o: &MineOptions,
    call: &Call,
) -> Result<Triplets, Error> {
    let (labels, metric) = (b.labels, &o.distance);
    let batch = Batch::of(b);
    let (pa, cand, cand_labels) = (&batch.anchors, batch.candidates(), batch.cand_labels);
    let mut t = Triplets::default();
    let Some((rows, cols, dim)) = batch.shape()? else {
        return Ok(t);
    };
    let self_mode = batch.self_mode;
    let classes = Classes::of(cand_labels);
    let f = Footprint {
        // Values and norm, class, the row of distances, and the pairs (at most one a column).
        per_row: row_bytes(dim) + 4 + 4 * cols + 24 * cols,
        per_col: row_bytes(dim) + 4,
        per_cell: 0,
    };
    let max_rows = MAX_GRID_Y_ROWS.min(rows_for_work(cols, dim, gpu.chunk_macs()));
    let p = plan_whole_rows(rows, cols, f, device_bytes, max_rows).ok_or_else(|| {
        too_large(f.bytes(Plan {
            rows: rows.clamp(1, TILE),
            cols,
        }))
    })?;
    let side = Side::upload(gpu, cand, 0, cols)?;
    let cand_class = Buffer::from_slice(gpu, &classes.cand_class)?;
    let scratch = Buffer::<f32>::uninit(gpu, p.rows * cols)?;
    let too_many = || Error::TooManyTriplets {
        limit: o.max_triplets,
    };
    let mut held = Vec::new();
    let mut total = 0usize;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        // The chunk's pairs: anchors with a negative, each with its positives in order.
        let (mut pair_anchor, mut pair_positive) = (Vec::new(), Vec::new());
        let mut anchor_class = vec![-1i32; h];
        for (i, a) in (r0..r1).enumerate() {
            if classes.size(labels[a]) >= cols {
                continue;
            }
            anchor_class[i] = classes.ids.get(&labels[a]).copied().unwrap_or(-1);
            for pos in classes.positives(a, labels[a], self_mode) {
                pair_anchor.push(i as i32);
                pair_positive.push(pos);
            }
        }
        let pairs = pair_anchor.len();
        int(pairs, "labels")?;
        if pairs > 0 {
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
            let ac = Buffer::from_slice(gpu, &anchor_class)?;
            let pa_buf = Buffer::from_slice(gpu, &pair_anchor)?;
            let pp_buf = Buffer::from_slice(gpu, &pair_positive)?;
            let counts = Buffer::<i64>::uninit(gpu, pairs)?;
            let grid = [blocks(pairs, THREADS as usize), 1, 1];
            let common = |p: &mut Params| {
                p.buf(&scratch)
                    .int(cols as i32)
                    .buf(&cand_class)
                    .buf(&ac)
                    .buf(&pa_buf)
                    .buf(&pp_buf)
                    .int(pairs as i32)
                    .int(strategy_code(o.strategy))
                    .float(o.margin as f32);
            };
            let mut count = Params::new();
            common(&mut count);
            count.buf(&counts);
            // SAFETY: tk_set_count's signature; `counts` holds one value a pair.
            unsafe { count.launch(gpu, SET_COUNT, grid, [THREADS, 1, 1])? };
            let counts = counts.to_vec()?;
            let mut offsets = Vec::with_capacity(pairs);
            let mut here = 0usize;
            for &c in &counts {
                offsets.push(here as i64);
                here += c as usize;
            }
            total += here;
            if total > o.max_triplets {
                return Err(too_many());
            }
            if here > 0 {
                held.push(budget::reserve(here * 12, "mineTriplets")?);
                let out = Buffer::<i32>::uninit(gpu, here)?;
                let off = Buffer::from_slice(gpu, &offsets)?;
                let mut fill = Params::new();
                common(&mut fill);
                fill.buf(&off).buf(&out);
                // SAFETY: tk_set_fill's signature; `out` holds exactly the counted negatives
                // and `offsets` places each pair's.
                unsafe { fill.launch(gpu, SET_FILL, grid, [THREADS, 1, 1])? };
                let negatives = out.to_vec()?;
                t.anchor.reserve(here);
                t.positive.reserve(here);
                for (q, &c) in counts.iter().enumerate() {
                    let a = r0 as i32 + pair_anchor[q];
                    for _ in 0..c {
                        t.anchor.push(a);
                        t.positive.push(pair_positive[q]);
                    }
                }
                t.negative.extend(negatives);
            }
        }
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(t)
}
