//! Sampled set mining on a GPU: the set pass of `set.rs`, where each pair's thread keys its
//! triplets (SplitMix64 over global indices, as core's `miners::sample`) and appends those
//! under the bound to a device buffer of `capacity` slots. The host keeps the `count`
//! smallest in core's bounded buffer, so host and device memory stay O(count). When a launch
//! finds more than `capacity`, nothing of it is kept: the pairs run again under the
//! `count`-th smallest key kept and of what came back (no key above it can be kept); should
//! that not lower the bound (a sample larger than the buffer, or equal keys across pairs), the
//! pairs are halved, down to one pair, whose negatives fit the buffer.
use super::set::{strategy_code, SetChunk, SetPass};
use crate::gpu::{Buffer, Gpu, Params};
use crate::kernels::{SET_SAMPLE, THREADS};
use tripletkit_core::miners::sample::{Keep, Keyed};
use tripletkit_core::{runtime::budget, Call, Error, Sample, Strategy, Triplets};

/// Bytes a slot of the candidate buffer takes: key, pair, negative.
const SLOT_BYTES: usize = 16;

/// Arguments are checked by the caller; `strategy` is a set strategy.
pub fn sample_set(
    gpu: &dyn Gpu,
    device_bytes: usize,
    b: &tripletkit_core::Batch,
    strategy: Strategy,
    margin: f64,
    s: &Sample,
    call: &Call,
) -> Result<Triplets, Error> {
    let keep = Keep::new(s.count)?;
    if s.count == 0 {
        return Ok(Triplets::default());
    }
    // Room for several samples' worth of candidates, so that a launch seldom overflows, within
    // half the budget; and for one pair's negatives at least, so that halving the pairs of a
    // launch that overflows always ends.
    let cols = b.reference.map_or(b.x.rows(), |r| r.0.rows());
    let least = cols.max(1024);
    let capacity = s
        .count
        .saturating_mul(4)
        .min(device_bytes / 2 / SLOT_BYTES)
        .max(least)
        .min(i32::MAX as usize);
    // The host's copies of a full buffer: its keys, and the triplets read back (as `Keyed`).
    let _host = budget::reserve(capacity.saturating_mul(8 + 40), "mineTriplets")?;
    let Some(pass) = SetPass::new(gpu, device_bytes, b, capacity * SLOT_BYTES)? else {
        return Ok(Triplets::default());
    };
    let slots = Slots {
        found: Buffer::<u64>::uninit(gpu, 1)?,
        keys: Buffer::<u64>::uninit(gpu, capacity)?,
        pairs: Buffer::<i32>::uninit(gpu, capacity)?,
        negatives: Buffer::<i32>::uninit(gpu, capacity)?,
        capacity,
    };
    let cand_base = if pass.self_mode() {
        s.anchor_offset
    } else {
        s.reference_offset
    };
    // An upper bound on the count-th smallest key, learnt from launches that overflowed.
    let mut limit = u64::MAX;
    for (r0, r1) in pass.chunks() {
        call.stop.check()?;
        let c = pass.chunk(r0, r1)?;
        let mut ranges = vec![(0, c.pairs())];
        while let Some((t0, t1)) = ranges.pop() {
            if t0 == t1 {
                continue;
            }
            loop {
                call.stop.check()?;
                let bound = keep.bound().min(limit);
                let launch = Launch {
                    strategy,
                    margin,
                    seed: s.seed,
                    anchor_base: s.anchor_offset.wrapping_add(c.r0 as u64),
                    cand_base,
                    bound,
                };
                let found = slots.run(gpu, &pass, &c, (t0, t1), &launch)?;
                if found <= capacity {
                    let mut batch = slots.read(found, &c)?;
                    keep.offer(&mut batch);
                    break;
                }
                let keys = slots.keys.to_vec()?;
                let tighter = keep.bound_with(&keys);
                if tighter < bound {
                    limit = tighter;
                } else if t1 - t0 > 1 {
                    let mid = t0 + (t1 - t0) / 2;
                    ranges.push((mid, t1));
                    ranges.push((t0, mid));
                    break;
                } else {
                    return Err(Error::Internal(
                        "one pair found more triplets than it has negatives".into(),
                    ));
                }
            }
        }
        call.advance(c.h, pass.rows);
    }
    call.stop.check()?;
    Ok(keep.into_triplets())
}

/// The candidate buffer on the device.
struct Slots<'g> {
    found: Buffer<'g, u64>,
    keys: Buffer<'g, u64>,
    pairs: Buffer<'g, i32>,
    negatives: Buffer<'g, i32>,
    capacity: usize,
}

/// What one launch keys and keeps.
struct Launch {
    strategy: Strategy,
    margin: f64,
    seed: u64,
    anchor_base: u64,
    cand_base: u64,
    bound: u64,
}

impl Slots<'_> {
    /// Runs pairs t0..t1 of chunk `c`: how many triplets were under the bound.
    fn run(
        &self,
        gpu: &dyn Gpu,
        pass: &SetPass,
        c: &SetChunk,
        (t0, t1): (usize, usize),
        l: &Launch,
    ) -> Result<usize, Error> {
        // SAFETY: `found` holds one u64.
        unsafe { gpu.fill(self.found.ptr(), 0, 8)? };
        let mut p = Params::new();
        c.params(pass, &mut p);
        p.int(t0 as i32)
            .int((t1 - t0) as i32)
            .int(strategy_code(l.strategy))
            .float(l.margin as f32);
        for v in [l.seed, l.anchor_base, l.cand_base, l.bound] {
            p.ptr(v); // a u64 parameter, passed as a device pointer is
        }
        p.int(self.capacity as i32)
            .buf(&self.found)
            .buf(&self.keys)
            .buf(&self.pairs)
            .buf(&self.negatives);
        // A block a pair.
        let grid = [(t1 - t0) as u32, 1, 1];
        // SAFETY: tk_set_sample's signature; the slots hold `capacity` entries, and the
        // kernel writes only below it.
        unsafe { p.launch(gpu, SET_SAMPLE, grid, [THREADS, 1, 1])? };
        Ok(self.found.to_vec()?[0] as usize)
    }

    /// The first `found` slots as keyed triplets of the batch.
    fn read(&self, found: usize, c: &SetChunk) -> Result<Vec<Keyed>, Error> {
        let mut keys = vec![0u64; found];
        let mut pairs = vec![0i32; found];
        let mut negatives = vec![0i32; found];
        if found > 0 {
            self.keys.download_into(&mut keys)?;
            self.pairs.download_into(&mut pairs)?;
            self.negatives.download_into(&mut negatives)?;
        }
        Ok((0..found)
            .map(|i| {
                let t = pairs[i] as usize;
                Keyed {
                    key: keys[i],
                    a: (c.r0 + c.pair_anchor[t] as usize) as u32,
                    p: c.pair_positive[t] as u32,
                    n: negatives[i] as u32,
                }
            })
            .collect())
    }
}
