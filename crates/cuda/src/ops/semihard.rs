//! Batch-semihard mining on a GPU, fused into the distance tile (`kernels/semihard.cu`): no
//! distance matrix is written. Per chunk of anchors: the positives' distances (computed with
//! the tile's arithmetic, so they are the bits the tile sees), sorted here; then one pass
//! over the candidates in which each negative lowers the bucket of the positives it serves;
//! then here, a suffix minimum over each anchor's buckets gives every positive its negative.
//! Memory: the rows, plus 16 bytes per (anchor, positive) pair of the chunk.
use super::classes::Classes;
use super::{row_bytes, rows_for_work, too_large, Batch, Side};
use crate::gpu::{blocks, Buffer, Gpu, Params, Reading};
use crate::kernels::{metric_code, SEMIHARD_FUSED, SEMIHARD_POSITIVES, THREADS, TILE};
use crate::plan::{chunks, plan, smallest, Footprint};
use tripletkit_core::{Call, Error, Triplets};

/// Semi-hard triplets, one per (anchor, positive) whose anchor has a negative, in anchor then
/// positive order. Arguments and the triplet count are checked by the caller.
pub fn batch_semihard(
    gpu: &dyn Gpu,
    device_bytes: usize,
    b: &tripletkit_core::Batch,
    call: &Call,
) -> Result<Triplets, Error> {
    let (labels, metric) = (b.labels, &b.metric);
    let batch = Batch::of(b);
    let (pa, cand) = (&batch.anchors, batch.candidates());
    let mut t = Triplets::default();
    let Some((rows, cols, dim)) = batch.shape()? else {
        return Ok(t);
    };
    let self_mode = batch.self_mode;
    let classes = Classes::of(batch.cand_labels);
    // Positives an anchor yields triplets for: none when it has no negative at all.
    let yields = |a: usize| -> usize {
        if classes.size(labels[a]) < cols {
            classes.positives(a, labels[a], self_mode).count()
        } else {
            0
        }
    };
    let largest = classes
        .start
        .windows(2)
        .map(|w| (w[1] - w[0]) as usize)
        .max()
        .unwrap_or(0);
    let f = Footprint {
        // Values and norm, class, offsets and farthest; then per positive the larger of its
        // two passes: its value and the three pair lists, then its sorted value and bucket.
        per_row: row_bytes(dim) + 4 + 8 + 8 + largest * 16,
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
        Some(Candidates::upload(gpu, cand, &classes.cand_class, 0, cols)?)
    } else {
        None
    };
    let col_chunks: Vec<_> = chunks(cols, p.cols).collect();
    let metric_i = metric_code(metric.metric);
    // Read once: the positives and the tiles must share one arithmetic.
    let math = gpu.math().get().code();
    let mut behind: Option<Pending> = None;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        let lay = Layout::of(
            r0,
            r1,
            yields,
            |a| classes.ids[&labels[a]],
            |a| classes.positives(a, labels[a], self_mode),
        );
        let total = lay.positives.len();
        if total == 0 {
            call.advance(h, rows);
            continue;
        }
        let ua = Side::upload(gpu, pa, r0, r1)?;
        let values_b = Buffer::<f32>::uninit(gpu, total)?;
        for &(c0, c1) in &col_chunks {
            call.stop.check()?;
            // The pairs whose positive is in this chunk of candidates.
            let (mut pair_a, mut pair_b, mut slot) = (vec![], vec![], vec![]);
            for (k, (&j, &i)) in lay.positives.iter().zip(&lay.anchor).enumerate() {
                if (c0..c1).contains(&(j as usize)) {
                    pair_a.push(i);
                    pair_b.push(j - c0 as i32);
                    slot.push(k as i32);
                }
            }
            if slot.is_empty() {
                continue;
            }
            let mut part = None;
            let ub = Candidates::chunk(&whole, &mut part, gpu, cand, &classes.cand_class, c0, c1)?;
            let (pa_b, pb_b, slot_b) = (
                Buffer::from_slice(gpu, &pair_a)?,
                Buffer::from_slice(gpu, &pair_b)?,
                Buffer::from_slice(gpu, &slot)?,
            );
            // SAFETY: tk_semihard_positives' signature; every pair indexes a row of `ua` and
            // of this chunk's candidates, every slot a value of `values_b`.
            unsafe {
                Params::new()
                    .buf(&ua.data)
                    .buf(&ua.norms)
                    .buf(&ub.side.data)
                    .buf(&ub.side.norms)
                    .int(dim as i32)
                    .int(metric_i)
                    .buf(&pa_b)
                    .buf(&pb_b)
                    .buf(&slot_b)
                    .int(slot.len() as i32)
                    .buf(&values_b)
                    .int(math)
                    .launch(
                        gpu,
                        SEMIHARD_POSITIVES,
                        [blocks(slot.len(), THREADS as usize), 1, 1],
                        [THREADS, 1, 1],
                    )?;
            }
        }
        let values = values_b.to_vec()?;
        drop(values_b);
        let mut sorted = values.clone();
        for (&s, &n) in lay.start.iter().zip(&lay.count) {
            sorted[s as usize..(s + n) as usize].sort_by(f32::total_cmp);
        }
        let class_b = Buffer::from_slice(gpu, &lay.class)?;
        let start_b = Buffer::from_slice(gpu, &lay.start)?;
        let count_b = Buffer::from_slice(gpu, &lay.count)?;
        let sorted_b = Buffer::from_slice(gpu, &sorted)?;
        // Buckets start empty (all bytes 0xff), the farthest at 0 (none).
        let buckets = Buffer::<u64>::filled(gpu, total, 0xff)?;
        let far = Buffer::<u64>::filled(gpu, h, 0)?;
        for &(c0, c1) in &col_chunks {
            call.stop.check()?;
            let mut part = None;
            let ub = Candidates::chunk(&whole, &mut part, gpu, cand, &classes.cand_class, c0, c1)?;
            let span = super::column_span(h, c1 - c0);
            let grid = [blocks(h, TILE), blocks(c1 - c0, span), 1];
            // SAFETY: tk_semihard_fused's signature; the anchors' buffers hold h rows, the
            // candidates' c1 − c0, and `sorted_b`/`buckets` the offsets `start_b` lays out.
            unsafe {
                Params::new()
                    .buf(&ua.data)
                    .buf(&ua.norms)
                    .buf(&class_b)
                    .int(h as i32)
                    .buf(&ub.side.data)
                    .buf(&ub.side.norms)
                    .buf(&ub.class)
                    .int((c1 - c0) as i32)
                    .int(dim as i32)
                    .int(c0 as i32)
                    .int(metric_i)
                    .buf(&sorted_b)
                    .buf(&start_b)
                    .buf(&count_b)
                    .int(span as i32)
                    .buf(&buckets)
                    .buf(&far)
                    .int(math)
                    .launch(gpu, SEMIHARD_FUSED, grid, [THREADS, 1, 1])?;
            }
        }
        // Copied back now, read once the next chunk's pass is queued: the GPU runs that pass
        // while the host merges this one.
        let done = Pending {
            r0,
            lay,
            values,
            sorted,
            buckets: buckets.read_later()?,
            far: far.read_later()?,
        };
        if let Some(before) = behind.replace(done) {
            before.read(&mut t)?;
        }
        call.advance(h, rows);
    }
    if let Some(last) = behind {
        last.read(&mut t)?;
    }
    call.stop.check()?;
    Ok(t)
}

/// A row chunk whose pass over the candidates is queued: what its read needs.
struct Pending<'g> {
    r0: usize,
    lay: Layout,
    values: Vec<f32>,
    sorted: Vec<f32>,
    buckets: Reading<'g, u64>,
    far: Reading<'g, u64>,
}

impl Pending<'_> {
    /// Adds the chunk's triplets: per positive, the nearest negative farther than it (its
    /// bucket's suffix minimum), else the anchor's farthest negative.
    fn read(self, t: &mut Triplets) -> Result<(), Error> {
        let Pending {
            r0,
            lay,
            values,
            sorted,
            buckets,
            far,
        } = self;
        let (mut bucket, far) = (buckets.wait()?, far.wait()?);
        for (i, &far) in far.iter().enumerate() {
            if lay.class[i] < 0 {
                continue;
            }
            if far == 0 {
                return Err(Error::Internal(format!(
                    "batch-semihard: anchor {} has negatives but none was seen",
                    r0 + i
                )));
            }
            let farthest = (0xffff_ffff - (far & 0xffff_ffff)) as i32;
            let range = lay.start[i] as usize..(lay.start[i] + lay.count[i]) as usize;
            // Bucket k serves the positives of rank ≤ k: a suffix minimum.
            let b = &mut bucket[range.clone()];
            for k in (0..b.len().saturating_sub(1)).rev() {
                b[k] = b[k].min(b[k + 1]);
            }
            let s = &sorted[range.clone()];
            for k in range.clone() {
                let key = b[s.partition_point(|&v| v < values[k])];
                t.anchor.push((r0 + i) as i32);
                t.positive.push(lay.positives[k]);
                t.negative.push(if key == u64::MAX {
                    farthest
                } else {
                    (key & 0xffff_ffff) as i32
                });
            }
        }
        Ok(())
    }
}

/// A chunk of candidates on the device: prepared rows and dense classes.
struct Candidates<'g> {
    side: Side<'g>,
    class: Buffer<'g, i32>,
}

impl<'g> Candidates<'g> {
    /// Columns c0..c1: the resident `whole` when there is one, else an upload of just them
    /// (kept in `part`).
    fn chunk<'a>(
        whole: &'a Option<Candidates<'g>>,
        part: &'a mut Option<Candidates<'g>>,
        gpu: &'g dyn Gpu,
        cand: &tripletkit_core::distances::Rows,
        cand_class: &[i32],
        c0: usize,
        c1: usize,
    ) -> Result<&'a Candidates<'g>, Error> {
        match whole {
            Some(w) => Ok(w),
            None => Ok(part.insert(Candidates::upload(gpu, cand, cand_class, c0, c1)?)),
        }
    }

    fn upload(
        gpu: &'g dyn Gpu,
        cand: &tripletkit_core::distances::Rows,
        cand_class: &[i32],
        c0: usize,
        c1: usize,
    ) -> Result<Self, Error> {
        Ok(Candidates {
            side: Side::upload(gpu, cand, c0, c1)?,
            class: Buffer::from_slice(gpu, &cand_class[c0..c1])?,
        })
    }
}

/// A chunk of anchors' positives, laid out on the host: anchor i (of the chunk) has
/// `count[i]` positives from `start[i]`, and `class[i]` is its class, −1 when it yields none.
struct Layout {
    class: Vec<i32>,
    start: Vec<i32>,
    count: Vec<i32>,
    /// Each slot's positive (a candidate) and anchor (of the chunk).
    positives: Vec<i32>,
    anchor: Vec<i32>,
}

impl Layout {
    fn of<P: Iterator<Item = i32>>(
        r0: usize,
        r1: usize,
        yields: impl Fn(usize) -> usize,
        class: impl Fn(usize) -> i32,
        positives: impl Fn(usize) -> P,
    ) -> Layout {
        let h = r1 - r0;
        let mut lay = Layout {
            class: Vec::with_capacity(h),
            start: Vec::with_capacity(h),
            count: Vec::with_capacity(h),
            positives: vec![],
            anchor: vec![],
        };
        for a in r0..r1 {
            lay.start.push(lay.positives.len() as i32);
            let n = yields(a);
            if n > 0 {
                lay.class.push(class(a));
                lay.positives.extend(positives(a));
                lay.anchor.resize(lay.positives.len(), (a - r0) as i32);
            } else {
                lay.class.push(-1);
            }
            lay.count.push(n as i32);
        }
        lay
    }
}
