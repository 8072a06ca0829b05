//! Set mining on a GPU ('all', 'violating', 'hard', 'semihard', 'easy'): a chunk of anchors'
//! rows of distances, then one thread an (anchor, positive) pair counts its negatives; the
//! host refuses past `max_triplets` before anything is allocated for the output, lays the
//! pairs' outputs end to end, and a second launch writes them. The result is in anchor,
//! positive, negative order, as the cpu device gives it.
use super::classes::Classes;
use super::{distance_tile, row_bytes, rows_for_work, too_large, Batch, Side, MAX_GRID_Y_ROWS};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{SET_COUNT, SET_FILL, THREADS, TILE};
use crate::plan::{chunks, plan_whole_rows, Footprint, Plan};
use tripletkit_core::{runtime::budget, Call, Error, MineOptions, Strategy, Triplets};

pub fn strategy_code(s: Strategy) -> i32 {
    match s {
        Strategy::All => 0,
        Strategy::Violating => 1,
        Strategy::Hard => 2,
        Strategy::Semihard => 3,
        _ => 4,
    }
}

/// What every chunk of a set pass shares: the candidates and their classes on the device, a
/// scratch for a chunk's rows of distances, and the chunk plan.
pub struct SetPass<'g> {
    gpu: &'g dyn Gpu,
    labels: &'g [i32],
    batch: Batch<'g>,
    classes: Classes,
    side: Side<'g>,
    pub cand_class: Buffer<'g, i32>,
    pub scratch: Buffer<'g, f32>,
    pub rows: usize,
    pub cols: usize,
    dim: usize,
    chunk_rows: usize,
    metric: tripletkit_core::Metric,
    /// The tiles' arithmetic, read once when the pass starts.
    math: crate::math::Math,
}

/// A chunk of anchors ready for the set kernels: its rows of distances in the pass's scratch,
/// and its (anchor, positive) pairs (anchors with a negative, positives in order) on the device.
pub struct SetChunk<'g> {
    pub r0: usize,
    pub h: usize,
    pub pair_anchor: Vec<i32>,
    pub pair_positive: Vec<i32>,
    pub anchor_class: Buffer<'g, i32>,
    pub pair_anchor_buf: Buffer<'g, i32>,
    pub pair_positive_buf: Buffer<'g, i32>,
}

impl<'g> SetPass<'g> {
    /// The pass over `b`'s anchors, planned within `device_bytes` with `per_row` more bytes an
    /// anchor row for the caller's own buffers; None when there is nothing to mine.
    pub fn new(
        gpu: &'g dyn Gpu,
        device_bytes: usize,
        b: &tripletkit_core::Batch<'g>,
        reserved: usize,
    ) -> Result<Option<Self>, Error> {
        let batch = Batch::of(b);
        let Some((rows, cols, dim)) = batch.shape()? else {
            return Ok(None);
        };
        let classes = Classes::of(batch.cand_labels);
        let f = Footprint {
            // Values and norm, class, the row of distances, and the pairs (at most one a column).
            per_row: row_bytes(dim) + 4 + 4 * cols + 24 * cols,
            per_col: row_bytes(dim) + 4,
            per_cell: 0,
        };
        let max_rows = MAX_GRID_Y_ROWS.min(rows_for_work(cols, dim, gpu.chunk_macs()));
        let budget = device_bytes.saturating_sub(reserved);
        let p = plan_whole_rows(rows, cols, f, budget, max_rows).ok_or_else(|| {
            too_large(
                reserved
                    + f.bytes(Plan {
                        rows: rows.clamp(1, TILE),
                        cols,
                    }),
            )
        })?;
        let side = Side::upload(gpu, batch.candidates(), 0, cols)?;
        Ok(Some(SetPass {
            gpu,
            labels: b.labels,
            cand_class: Buffer::from_slice(gpu, &classes.cand_class)?,
            scratch: Buffer::<f32>::uninit(gpu, p.rows * cols)?,
            classes,
            side,
            batch,
            rows,
            cols,
            dim,
            chunk_rows: p.rows,
            metric: b.metric.metric,
            math: gpu.math().get(),
        }))
    }

    /// The chunks of anchor rows, as (r0, r1).
    pub fn chunks(&self) -> impl Iterator<Item = (usize, usize)> {
        chunks(self.rows, self.chunk_rows)
    }

    /// Chunk r0..r1 made ready: its pairs, and (when it has any) its rows of distances.
    pub fn chunk(&self, r0: usize, r1: usize) -> Result<SetChunk<'g>, Error> {
        let (gpu, h, dim, cols) = (self.gpu, r1 - r0, self.dim, self.cols);
        let self_mode = self.batch.self_mode;
        let (mut pair_anchor, mut pair_positive) = (Vec::new(), Vec::new());
        let mut anchor_class = vec![-1i32; h];
        for (i, a) in (r0..r1).enumerate() {
            let label = self.labels[a];
            if self.classes.size(label) >= cols {
                continue;
            }
            anchor_class[i] = self.classes.ids.get(&label).copied().unwrap_or(-1);
            for pos in self.classes.positives(a, label, self_mode) {
                pair_anchor.push(i as i32);
                pair_positive.push(pos);
            }
        }
        int(pair_anchor.len(), "labels")?;
        if !pair_anchor.is_empty() {
            let ua = Side::upload(gpu, &self.batch.anchors, r0, r1)?;
            let (ra, rb) = (
                ua.rows_at(0, h, dim, r0),
                self.side.rows_at(0, cols, dim, 0),
            );
            let out = self.scratch.ptr();
            distance_tile(
                gpu,
                ra,
                rb,
                dim,
                out,
                cols,
                self.metric,
                self.math,
                self_mode,
            )?;
        }
        Ok(SetChunk {
            r0,
            h,
            anchor_class: Buffer::from_slice(gpu, &anchor_class)?,
            pair_anchor_buf: Buffer::from_slice(gpu, &pair_anchor)?,
            pair_positive_buf: Buffer::from_slice(gpu, &pair_positive)?,
            pair_anchor,
            pair_positive,
        })
    }

    pub fn self_mode(&self) -> bool {
        self.batch.self_mode
    }
}

impl SetChunk<'_> {
    pub fn pairs(&self) -> usize {
        self.pair_anchor.len()
    }

    /// The parameters every set kernel starts with, up to the pairs' buffers.
    pub fn params(&self, pass: &SetPass, p: &mut Params) {
        p.buf(&pass.scratch)
            .int(pass.cols as i32)
            .buf(&pass.cand_class)
            .buf(&self.anchor_class)
            .buf(&self.pair_anchor_buf)
            .buf(&self.pair_positive_buf);
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
    let mut t = Triplets::default();
    let Some(pass) = SetPass::new(gpu, device_bytes, b, 0)? else {
        return Ok(t);
    };
    let too_many = || Error::TooManyTriplets {
        limit: o.max_triplets,
    };
    let mut held = Vec::new();
    let mut total = 0usize;
    for (r0, r1) in pass.chunks() {
        call.stop.check()?;
        let c = pass.chunk(r0, r1)?;
        let pairs = c.pairs();
        if pairs > 0 {
            let counts = Buffer::<i64>::uninit(gpu, pairs)?;
            // A block a pair (pairs are below 2³¹: the caller's sizes are).
            let grid = [pairs as u32, 1, 1];
            let common = |p: &mut Params| {
                c.params(&pass, p);
                p.int(pairs as i32)
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
                for (q, &n) in counts.iter().enumerate() {
                    let a = c.r0 as i32 + c.pair_anchor[q];
                    for _ in 0..n {
                        t.anchor.push(a);
                        t.positive.push(c.pair_positive[q]);
                    }
                }
                t.negative.extend(negatives);
            }
        }
        call.advance(c.h, pass.rows);
    }
    call.stop.check()?;
    Ok(t)
}
