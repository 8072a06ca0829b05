//! Online triplet mining from a labelled batch.
mod hard_bounded;
pub mod sample;
pub(crate) mod semihard;
mod semihard_upper;

use crate::device::Batch;
use crate::distances::select::Ranked;
use crate::distances::{knn_bounded, Distances};
use crate::{rules, runtime::budget, Call, Device, Error, MatRef, MineOptions, Sample};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    All,
    Violating,
    Hard,
    Semihard,
    Easy,
    BatchHard,
    BatchSemihard,
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "all" => Strategy::All,
            "violating" => Strategy::Violating,
            "hard" => Strategy::Hard,
            "semihard" => Strategy::Semihard,
            "easy" => Strategy::Easy,
            "batch-hard" => Strategy::BatchHard,
            "batch-semihard" => Strategy::BatchSemihard,
            _ => {
                return Err(Error::invalid(
                    "strategy",
                    format!("expected one of 'all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard', received '{s}'"),
                ))
            }
        })
    }
}

/// Parallel index arrays: triplet t is (anchor[t], positive[t], negative[t]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triplets {
    pub anchor: Vec<i32>,
    pub positive: Vec<i32>,
    pub negative: Vec<i32>,
}

impl Triplets {
    /// No triplets yet, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Triplets {
            anchor: Vec::with_capacity(n),
            positive: Vec::with_capacity(n),
            negative: Vec::with_capacity(n),
        }
    }
    pub fn len(&self) -> usize {
        self.anchor.len()
    }
    /// Appends the triplet (a, p, n).
    #[inline]
    fn push(&mut self, a: usize, p: usize, n: usize) {
        self.anchor.push(a as i32);
        self.positive.push(p as i32);
        self.negative.push(n as i32);
    }
    pub fn is_empty(&self) -> bool {
        self.anchor.is_empty()
    }
    /// An internal error for a device's sample that holds more than `count`.
    fn at_most(&self, count: usize) -> Result<(), Error> {
        if self.len() > count {
            return Err(Error::Internal(format!(
                "a sample of {count} came back with {} triplets",
                self.len()
            )));
        }
        Ok(())
    }
}

/// Who may pair with whom: the anchors' labels, the candidates' labels, and whether the
/// candidates are the anchors themselves (then a row is never its own positive).
#[derive(Clone, Copy)]
struct Roles<'a> {
    anchors: &'a [i32],
    candidates: &'a [i32],
    self_mode: bool,
}

impl Roles<'_> {
    #[inline]
    fn same(&self, a: usize, j: usize) -> bool {
        self.candidates[j] == self.anchors[a]
    }
    #[inline]
    fn positive(&self, a: usize, j: usize) -> bool {
        self.same(a, j) && !(self.self_mode && j == a)
    }
}

impl<'a> Roles<'a> {
    fn of(b: &Batch<'a>) -> Self {
        Roles {
            anchors: b.labels,
            candidates: b.candidate_labels(),
            self_mode: b.reference.is_none(),
        }
    }
}

/// Mines triplets on `dev` as API.md defines each strategy. With `reference` (cross-batch
/// memory: its rows and labels), anchors are the rows of `x` and positives and negatives rows
/// of the reference, with no a ≠ p rule. Every strategy fails with `Error::TooManyTriplets`
/// rather than grow past `o.max_triplets`.
pub fn mine_triplets(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    o: &MineOptions,
    call: &Call,
) -> Result<Triplets, Error> {
    check(x, labels, reference, o)?;
    let batch = Batch {
        x,
        labels,
        reference,
        metric: o.distance,
    };
    if let Some(s) = &o.sample {
        // A sample is never refused by max_triplets: it holds at most s.count, and no more
        // than the set, whose size bounds what the devices allocate.
        let s = Sample {
            count: s.count.min(set_size(Roles::of(&batch))),
            ..*s
        };
        let sampled = dev.triplet_sample(&batch, o.strategy, o.margin, &s, call)?;
        sampled.at_most(s.count)?;
        return Ok(sampled);
    }
    let too_many = || Error::TooManyTriplets {
        limit: o.max_triplets,
    };
    if let Some(count) = batch_count(Roles::of(&batch), o.strategy) {
        // Batch strategies' output size follows from the labels alone: refuse before the work.
        if count > o.max_triplets {
            return Err(too_many());
        }
    }
    let mined = match o.strategy {
        Strategy::BatchHard => dev.batch_hard(&batch, call)?,
        Strategy::BatchSemihard => dev.batch_semihard(&batch, call)?,
        set => dev.triplet_set(&batch, set, o.margin, o.max_triplets, call)?,
    };
    if mined.len() > o.max_triplets {
        return Err(too_many());
    }
    Ok(mined)
}

/// The cpu device's miners, over tiles of distances.
pub mod cpu {
    use super::*;

    fn distances<'a>(b: &Batch<'a>, call: &Call<'a>) -> Distances<'a> {
        Distances::new(b.x, b.reference.map(|r| r.0), b.metric).with_call(*call)
    }

    pub fn batch_hard(b: &Batch, call: &Call) -> Result<Triplets, Error> {
        super::batch_hard(&distances(b, call), Roles::of(b))
    }

    pub fn batch_semihard(b: &Batch, call: &Call) -> Result<Triplets, Error> {
        super::batch_semihard(&distances(b, call), Roles::of(b))
    }

    pub fn triplet_set(
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        max_triplets: usize,
        call: &Call,
    ) -> Result<Triplets, Error> {
        mine_set(
            &distances(b, call),
            Roles::of(b),
            strategy,
            margin as f32,
            max_triplets,
        )
    }

    pub fn triplet_sample(
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        s: &Sample,
        call: &Call,
    ) -> Result<Triplets, Error> {
        sample_set(
            &distances(b, call),
            Roles::of(b),
            strategy,
            margin as f32,
            s,
        )
    }
}

/// The argument rules of `mine_triplets`, for every device.
pub fn check(
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    o: &MineOptions,
) -> Result<(), Error> {
    rules::labels("labels", labels, x.rows())?;
    rules::margin("margin", o.margin)?;
    rules::reference(x, reference)?;
    if let Some(s) = &o.sample {
        rules::sample(s, o.strategy, reference.map(|r| r.0.rows()))?;
    }
    Ok(())
}

/// How many triplets a batch strategy yields: one per anchor with a positive and a negative
/// (batch-hard), or one per positive pair whose anchor has a negative (batch-semihard).
/// `None` for set strategies, whose size depends on the distances.
fn batch_count(roles: Roles, strategy: Strategy) -> Option<usize> {
    let class_size = class_sizes(roles.candidates);
    let n = roles.candidates.len();
    let per_anchor = |l: &i32| {
        let same = class_size.get(l).copied().unwrap_or(0);
        let positives = same - usize::from(roles.self_mode);
        match (positives > 0 && same < n, strategy) {
            (false, _) => 0,
            (true, Strategy::BatchHard) => 1,
            (true, _) => positives,
        }
    };
    match strategy {
        Strategy::BatchHard | Strategy::BatchSemihard => {
            Some(roles.anchors.iter().map(per_anchor).sum())
        }
        _ => None,
    }
}

/// Candidates of each label.
fn class_sizes(labels: &[i32]) -> HashMap<i32, usize> {
    let mut size: HashMap<i32, usize> = HashMap::new();
    for &l in labels {
        *size.entry(l).or_default() += 1;
    }
    size
}

/// The size of the 'all' set (every other strategy's is at most this), saturating.
fn set_size(roles: Roles) -> usize {
    let class_size = class_sizes(roles.candidates);
    let n = roles.candidates.len();
    roles.anchors.iter().fold(0usize, |sum, l| {
        let same = class_size.get(l).copied().unwrap_or(0);
        let positives = same.saturating_sub(usize::from(roles.self_mode));
        sum.saturating_add(positives.saturating_mul(n - same))
    })
}

/// Each class's candidates, in ascending order.
fn class_members(labels: &[i32]) -> HashMap<i32, Vec<usize>> {
    let mut members: HashMap<i32, Vec<usize>> = HashMap::new();
    for (j, &l) in labels.iter().enumerate() {
        members.entry(l).or_default().push(j);
    }
    members
}

/// Concatenates per-block triplets in block order, which is ascending anchor order.
fn concat(mut parts: Vec<Triplets>) -> Triplets {
    if parts.len() == 1 {
        return parts.pop().expect("one part");
    }
    let total = parts.iter().map(Triplets::len).sum();
    let mut out = Triplets::with_capacity(total);
    for p in parts {
        out.anchor.extend(p.anchor);
        out.positive.extend(p.positive);
        out.negative.extend(p.negative);
    }
    out
}

/// Hermans et al. 2017: per anchor, the farthest positive and the nearest negative. Through
/// the tile unit where it suits (`hard_bounded`), else folded tile by tile.
fn batch_hard(dist: &Distances, roles: Roles) -> Result<Triplets, Error> {
    if knn_bounded::suits(dist, 1) {
        hard_bounded::batch_hard(dist, roles, knn_bounded::Products::Unit)
    } else {
        batch_hard_folded(dist, roles)
    }
}

/// `batch_hard` folded tile by tile: per row only the two running extremes are kept.
fn batch_hard_folded(dist: &Distances, roles: Roles) -> Result<Triplets, Error> {
    let parts = dist.fold_tiles(
        |r0, r1| (r0, vec![(None, None); r1 - r0]) as (usize, Extremes),
        |(r0, best), _, c0, tile| hard_tile(roles, *r0, c0, tile, best),
    )?;
    let mut t = Triplets::default();
    for (r0, best) in parts {
        for (ri, extremes) in best.into_iter().enumerate() {
            if let (Some(p), Some(n)) = extremes {
                t.push(r0 + ri, p.i as usize, n.i as usize);
            }
        }
    }
    Ok(t)
}

/// Per anchor, the running (farthest positive, nearest negative).
type Extremes = Vec<(Option<Ranked>, Option<Ranked>)>;

crate::runtime::simd::widest! {
    /// Folds one tile (rows from r0, columns from c0) into the rows' batch-hard extremes:
    /// per row a branch-free minimum over the negatives and maximum over the positives
    /// (vectorised), then the first column that holds each, only when it improves on the row
    /// so far. Strict comparisons keep the lowest index on a tie; a row of +∞ (−∞) distances
    /// still yields its first negative (positive).
    fn hard_tile(roles: Roles, r0: usize, c0: usize, tile: &[f32], best: &mut Extremes) -> () {
        let w = tile.len() / best.len();
        let tile_labels = &roles.candidates[c0..c0 + w];
        for (ri, ((pos, neg), row)) in best.iter_mut().zip(tile.chunks(w)).enumerate() {
            let a = r0 + ri;
            let la = roles.anchors[a];
            // The anchor's own column is not a positive.
            let own = if roles.self_mode && (c0..c0 + w).contains(&a) {
                a - c0
            } else {
                w
            };
            let (nearest, farthest) = row_extremes(row, tile_labels, la, own);
            if neg.is_none_or(|n| nearest < n.d) {
                let hit = |v: f32| v == nearest || nearest == f32::INFINITY;
                if let Some(jj) = first(row, tile_labels, |l| l != la, hit) {
                    *neg = Some(Ranked {
                        d: row[jj],
                        i: (c0 + jj) as u32,
                    });
                }
            }
            let after = (own + 1).min(w);
            let same = |l: i32| l == la;
            if pos.is_none_or(|p| farthest > p.d) {
                let hit = |v: f32| v == farthest || farthest == f32::NEG_INFINITY;
                let found = first(&row[..own], &tile_labels[..own], same, hit)
                    .or_else(|| first(&row[after..], &tile_labels[after..], same, hit).map(|j| after + j));
                if let Some(jj) = found {
                    *pos = Some(Ranked {
                        d: row[jj],
                        i: (c0 + jj) as u32,
                    });
                }
            }
        }
    }
}

/// The first index whose label `keep`s and whose entry is a `hit`: sixteen entries tested at
/// once into a bit mask.
#[inline(always)]
fn first(
    row: &[f32],
    labels: &[i32],
    keep: impl Fn(i32) -> bool,
    hit: impl Fn(f32) -> bool,
) -> Option<usize> {
    const LANES: usize = 16;
    let (rows, labs) = (row.chunks_exact(LANES), labels.chunks_exact(LANES));
    let whole = row.len() - rows.remainder().len();
    for (c, (r, l)) in rows.zip(labs).enumerate() {
        let mut bits = 0u32;
        for k in 0..LANES {
            bits |= u32::from(keep(l[k]) && hit(r[k])) << k;
        }
        if bits != 0 {
            return Some(c * LANES + bits.trailing_zeros() as usize);
        }
    }
    (whole..row.len()).find(|&j| keep(labels[j]) && hit(row[j]))
}

/// A row's least distance to another class and largest to its own class (`label`), leaving
/// out the column `own`: ±∞ where there is none.
#[inline(always)]
fn row_extremes(row: &[f32], labels: &[i32], label: i32, own: usize) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { row_extremes_avx512(row, labels, label, own) };
    }
    row_extremes_portable(row, labels, label, own)
}

/// `row_extremes` with no vector unit named.
fn row_extremes_portable(row: &[f32], labels: &[i32], label: i32, own: usize) -> (f32, f32) {
    let own = own.min(row.len());
    let after = (own + 1).min(row.len());
    let same = |l: i32| l == label;
    let largest = extreme::<true>(&row[..own], &labels[..own], same).max(extreme::<true>(
        &row[after..],
        &labels[after..],
        same,
    ));
    (extreme::<false>(row, labels, |l| l != label), largest)
}

/// `row_extremes` sixteen columns at a time under masks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn row_extremes_avx512(row: &[f32], labels: &[i32], label: i32, own: usize) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = row.len().min(labels.len());
    let mut least = _mm512_set1_ps(f32::INFINITY);
    let mut largest = _mm512_set1_ps(f32::NEG_INFINITY);
    let want = _mm512_set1_epi32(label);
    for j in (0..n).step_by(16) {
        let live: __mmask16 = if n - j >= 16 {
            0xffff
        } else {
            (1u16 << (n - j)) - 1
        };
        let skip: __mmask16 = if (j..j + 16).contains(&own) {
            1 << (own - j)
        } else {
            0
        };
        // SAFETY: the masked loads read only the `live` lanes, inside both slices.
        let (d, l) = unsafe {
            (
                _mm512_maskz_loadu_ps(live, row.as_ptr().add(j)),
                _mm512_maskz_loadu_epi32(live, labels.as_ptr().add(j)),
            )
        };
        let same = _mm512_mask_cmpeq_epi32_mask(live, l, want);
        // min(d, m) gives m where d is NaN: a NaN never wins, as in `extreme`.
        least = _mm512_mask_min_ps(least, live & !same, d, least);
        largest = _mm512_mask_max_ps(largest, same & !skip, d, largest);
    }
    (_mm512_reduce_min_ps(least), _mm512_reduce_max_ps(largest))
}

/// The least (`LARGEST`: the largest) of `row`'s entries whose label `keep`s, +∞ (−∞) if
/// none; a NaN never wins.
fn extreme<const LARGEST: bool>(row: &[f32], labels: &[i32], keep: impl Fn(i32) -> bool) -> f32 {
    let none = if LARGEST {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    row.iter()
        .zip(labels)
        .filter(|&(_, &l)| keep(l))
        .fold(none, |m, (&v, _)| {
            let better = if LARGEST { v > m } else { v < m };
            if better {
                v
            } else {
                m
            }
        })
}

/// FaceNet's online semi-hard negatives (see `semihard`): over half the matrix where the
/// batch is mined against itself (`semihard_upper`), else one row of distances at a time.
fn batch_semihard(dist: &Distances, roles: Roles) -> Result<Triplets, Error> {
    let members = class_members(roles.candidates);
    if semihard_upper::suits(dist, roles, &members) {
        return semihard_upper::batch_semihard(dist, roles, &members);
    }
    batch_semihard_rows(dist, roles, &members)
}

/// `batch_semihard` one whole row of distances at a time.
fn batch_semihard_rows(
    dist: &Distances,
    roles: Roles,
    members: &HashMap<i32, Vec<usize>>,
) -> Result<Triplets, Error> {
    let n = dist.cols();
    let class_of = |a: usize| {
        members
            .get(&roles.anchors[a])
            .map_or(&[][..], Vec::as_slice)
    };
    Ok(concat(dist.map_row_blocks(|r0, rows| {
        // One triplet per positive pair of an anchor that has a negative (as `batch_count`
        // counts them, under maxTriplets): room for all of them up front.
        let r1 = r0 + rows.len() / n.max(1);
        let own = usize::from(roles.self_mode);
        let most = (r0..r1)
            .map(|a| class_of(a).len())
            .filter(|&c| c < n)
            .map(|c| c.saturating_sub(own))
            .sum();
        let mut t = Triplets::with_capacity(most);
        let mut scratch = semihard::Scratch::default();
        for (ri, row) in rows.chunks_mut(n).enumerate() {
            let a = r0 + ri;
            let class = class_of(a);
            let own = roles.self_mode.then_some(a);
            semihard::semihard_row(row, class, own, &mut scratch, |p, ng| t.push(a, p, ng));
        }
        t
    })?))
}

/// Whether a triplet with m = d(a,n) − d(a,p) belongs to a set strategy.
fn keeps(strategy: Strategy, m: f32, margin: f32) -> bool {
    match strategy {
        Strategy::All => true,
        Strategy::Violating => m <= margin,
        Strategy::Hard => m <= 0.0,
        Strategy::Semihard => m > 0.0 && m <= margin,
        Strategy::Easy => m > margin,
        Strategy::BatchHard | Strategy::BatchSemihard => unreachable!("not a set strategy"),
    }
}

/// Calls `emit(p, n)` for each triplet of anchor `a` (distances `row`) that the set strategy
/// keeps, in (positive, negative) order, after `start(a, p)` for each positive.
#[inline]
fn each_triplet(
    roles: Roles,
    strategy: Strategy,
    margin: f32,
    a: usize,
    row: &[f32],
    mut start: impl FnMut(usize, usize),
    mut emit: impl FnMut(usize, usize),
) {
    let negatives: Vec<usize> = (0..row.len()).filter(|&j| !roles.same(a, j)).collect();
    if negatives.is_empty() {
        return;
    }
    for p in (0..row.len()).filter(|&p| roles.positive(a, p)) {
        start(a, p);
        for &ng in &negatives {
            if keeps(strategy, row[ng] - row[p], margin) {
                emit(p, ng);
            }
        }
    }
}

/// The sample `s` of the set: one pass over the anchors' rows of distances, each thread
/// keying the triplets its rows keep and offering those under the buffer's bound.
fn sample_set(
    dist: &Distances,
    roles: Roles,
    strategy: Strategy,
    margin: f32,
    s: &Sample,
) -> Result<Triplets, Error> {
    let keep = sample::Keep::new(s.count)?;
    if s.count == 0 {
        return Ok(Triplets::default());
    }
    let cand_offset = if roles.self_mode {
        s.anchor_offset
    } else {
        s.reference_offset
    };
    let done = dist.map_row_blocks(|r0, rows| {
        let mut local = keep.local();
        let pair = std::cell::Cell::new(0u64);
        for (ri, row) in rows.chunks(dist.cols()).enumerate() {
            dist.stop().check()?;
            let a = r0 + ri;
            let ga = s.anchor_offset.wrapping_add(a as u64);
            // The bound falls as other threads offer: read it again every anchor.
            local.refresh();
            each_triplet(
                roles,
                strategy,
                margin,
                a,
                row,
                |_, p| {
                    pair.set(sample::pair_key(
                        s.seed,
                        ga,
                        cand_offset.wrapping_add(p as u64),
                    ))
                },
                |p, ng| {
                    local.push(sample::Keyed {
                        key: sample::key(pair.get(), cand_offset.wrapping_add(ng as u64)),
                        a: a as u32,
                        p: p as u32,
                        n: ng as u32,
                    })
                },
            );
        }
        Ok(())
    })?;
    done.into_iter().collect::<Result<Vec<()>, Error>>()?;
    Ok(keep.into_triplets())
}

/// Every valid triplet that passes the strategy's filter. Two passes over the distances: the
/// first counts (stopping as soon as the total passes `max_triplets`), so a refusal costs no
/// memory; then the exact result is reserved from the process budget, allocated once, and
/// each row block fills its own slice of it.
fn mine_set(
    dist: &Distances,
    roles: Roles,
    strategy: Strategy,
    margin: f32,
    max_triplets: usize,
) -> Result<Triplets, Error> {
    let n = dist.cols();
    let too_many = Error::TooManyTriplets {
        limit: max_triplets,
    };
    let each = |a: usize, row: &[f32], emit: &mut dyn FnMut(usize, usize)| {
        each_triplet(roles, strategy, margin, a, row, |_, _| (), emit)
    };

    let total = AtomicUsize::new(0);
    let counts = dist.map_row_blocks(|r0, rows| {
        let mut block = 0usize;
        for (ri, row) in rows.chunks(n).enumerate() {
            // One anchor can enumerate many triplets: stop between anchors, not per block.
            dist.stop().check()?;
            let a = r0 + ri;
            let mut here = 0usize;
            each(a, row, &mut |_, _| here += 1);
            block += here;
            if total.fetch_add(here, Ordering::Relaxed) + here > max_triplets {
                return Err(too_many.clone());
            }
        }
        Ok((r0, block))
    })?;
    let counts = counts.into_iter().collect::<Result<Vec<_>, _>>()?;
    let count: usize = counts.iter().map(|c| c.1).sum();
    if count > max_triplets {
        return Err(too_many);
    }
    let _held = budget::reserve(count * 12, "mineTriplets")?;

    let mut out = Triplets {
        anchor: vec![0; count],
        positive: vec![0; count],
        negative: vec![0; count],
    };
    // Each block's disjoint slices of the result, found by its first row.
    let mut slices = Vec::with_capacity(counts.len());
    {
        let (mut a_rest, mut p_rest, mut n_rest) = (
            &mut out.anchor[..],
            &mut out.positive[..],
            &mut out.negative[..],
        );
        for &(r0, len) in &counts {
            let (a, ar) = a_rest.split_at_mut(len);
            let (p, pr) = p_rest.split_at_mut(len);
            let (ng, nr) = n_rest.split_at_mut(len);
            (a_rest, p_rest, n_rest) = (ar, pr, nr);
            slices.push((r0, Mutex::new((a, p, ng))));
        }
        let filled = dist.map_row_blocks(|r0, rows| {
            let at = slices.partition_point(|s| s.0 < r0);
            let mut slot = slices[at]
                .1
                .lock()
                .map_err(|_| Error::Internal("poisoned slice".into()))?;
            let (sa, sp, sn) = &mut *slot;
            let mut k = 0usize;
            for (ri, row) in rows.chunks(n).enumerate() {
                dist.stop().check()?;
                let a = r0 + ri;
                each(a, row, &mut |p, ng| {
                    // The second pass sees the same distances, so it keeps the same triplets.
                    if k < sa.len() {
                        sa[k] = a as i32;
                        sp[k] = p as i32;
                        sn[k] = ng as i32;
                    }
                    k += 1;
                });
            }
            if k == sa.len() {
                Ok(())
            } else {
                Err(Error::Internal(format!(
                    "mining pass 2 found {k} triplets where pass 1 counted {}",
                    sa.len()
                )))
            }
        })?;
        filled.into_iter().collect::<Result<Vec<_>, _>>()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MatRef, Metric, MetricOptions};

    #[test]
    fn row_extremes_agree_on_every_path() {
        let mut seed = 9u64;
        for n in [0usize, 1, 5, 16, 17, 40, 64] {
            let mut row: Vec<f32> = (0..n).map(|_| crate::testing::lcg(&mut seed)).collect();
            if n > 3 {
                row[1] = f32::INFINITY;
                row[3] = f32::NEG_INFINITY;
            }
            let labels: Vec<i32> = (0..n as i32).map(|i| (i * 7 / 3) % 3).collect();
            for own in [0, 2, n / 2, n.saturating_sub(1), n] {
                let want = {
                    let neg = (0..n).filter(|&j| labels[j] != 1).map(|j| row[j]);
                    let pos = (0..n)
                        .filter(|&j| labels[j] == 1 && j != own)
                        .map(|j| row[j]);
                    (
                        neg.fold(f32::INFINITY, f32::min),
                        pos.fold(f32::NEG_INFINITY, f32::max),
                    )
                };
                assert_eq!(row_extremes(&row, &labels, 1, own), want, "{n} {own}");
                assert_eq!(
                    row_extremes_portable(&row, &labels, 1, own),
                    want,
                    "{n} {own}"
                );
            }
        }
    }

    /// Batch-hard from the whole matrix, by definition: per anchor the first column of the
    /// largest distance among its positives and of the least among its negatives.
    fn batch_hard_by_definition(d: &[f32], cols: usize, roles: Roles) -> Triplets {
        let mut t = Triplets::default();
        for (a, row) in d.chunks(cols).enumerate() {
            let (mut p, mut n) = (None::<(f32, usize)>, None::<(f32, usize)>);
            for (j, &v) in row.iter().enumerate() {
                if roles.positive(a, j) && p.is_none_or(|(b, _)| v > b) {
                    p = Some((v, j));
                }
                if !roles.same(a, j) && n.is_none_or(|(b, _)| v < b) {
                    n = Some((v, j));
                }
            }
            if let (Some((_, p)), Some((_, n))) = (p, n) {
                t.push(a, p, n);
            }
        }
        t
    }

    /// The folded pass against the definition: rows on a coarse grid (ties everywhere, the
    /// first column must win), repeated rows, a zero row, one to many column tiles, a batch against itself
    /// and against a reference, every metric (the dot product's distances are negative).
    #[test]
    fn folded_batch_hard_is_the_definition() {
        // Worked by hand, dot product: anchor 0's distance to itself (−0.01) is above its
        // positives' (−0.02, −0.1), and is not one of them; its farthest positive is row 2.
        let x = [0.1, 0.0, 5.0, 0.0, 0.2, 0.0, 4.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let labels = [0, 1, 0, 1, 0, 1];
        let roles = Roles {
            anchors: &labels,
            candidates: &labels,
            self_mode: true,
        };
        let o = MetricOptions {
            metric: Metric::Dot,
            ..MetricOptions::default()
        };
        let dist = Distances::new(MatRef::new(&x, 6, 2).unwrap(), None, o);
        let got = batch_hard_folded(&dist, roles).unwrap();
        assert_eq!((got.anchor[0], got.positive[0], got.negative[0]), (0, 2, 1));
        let mut seed = 3u64;
        // 600 rows against themselves: two column tiles, the anchor's own column in the second
        // for the rows from 512 on.
        for (rows, cols, dim, classes) in [
            (9, 9, 3, 2),
            (37, 37, 5, 4),
            (70, 600, 4, 7),
            (33, 1100, 2, 3),
            (600, 9, 3, 7),
        ] {
            let grid = |seed: &mut u64| (crate::testing::lcg(seed) * 2.0).round() / 2.0;
            let mut a: Vec<f32> = (0..rows * dim).map(|_| grid(&mut seed)).collect();
            // A zero row: all its dot products tie, its own column first among them.
            a[..dim].fill(0.0);
            let b: Vec<f32> = (0..cols * dim).map(|_| grid(&mut seed)).collect();
            let la: Vec<i32> = (0..rows as i32).map(|i| (i * 5 + 1) % classes).collect();
            let lb: Vec<i32> = (0..cols as i32)
                .map(|i| (i * 3 + i / 5) % classes)
                .collect();
            for metric in [
                Metric::SqEuclidean,
                Metric::Euclidean,
                Metric::Dot,
                Metric::Cosine,
            ] {
                let o = MetricOptions {
                    metric,
                    ..MetricOptions::default()
                };
                let am = MatRef::new(&a, rows, dim).unwrap();
                let bm = MatRef::new(&b, cols, dim).unwrap();
                let pairs = [
                    (
                        Roles {
                            anchors: &la,
                            candidates: &la,
                            self_mode: true,
                        },
                        None,
                    ),
                    (
                        Roles {
                            anchors: &la,
                            candidates: &lb,
                            self_mode: false,
                        },
                        Some(bm),
                    ),
                ];
                for (roles, other) in pairs {
                    let dist = Distances::new(am, other, o);
                    let want = batch_hard_by_definition(&dist.full().unwrap(), dist.cols(), roles);
                    let got = batch_hard_folded(&dist, roles).unwrap();
                    assert!(!want.is_empty(), "{rows} {metric:?} {}", roles.self_mode);
                    assert_eq!(
                        (&got.anchor, &got.positive, &got.negative),
                        (&want.anchor, &want.positive, &want.negative),
                        "{rows} x {} {metric:?} self {}",
                        dist.cols(),
                        roles.self_mode
                    );
                }
            }
        }
    }
}
