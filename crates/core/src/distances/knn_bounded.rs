//! knn through the tile unit: bfloat16 products bound every candidate's distance from below
//! and above (`bounds.rs`), and only the candidates the bounds cannot rule out get their
//! exact distance, computed as every other pass computes it. The lists are therefore the
//! cpu's, bit for bit, whatever the unit's rounding.
//!
//! Per query, a pass keeps the k smallest upper bounds (their largest, U, bounds the k-th
//! distance from above) and every candidate whose lower bound is at most U at the time. U only
//! falls, so the kept candidates hold every true neighbour; at the end those above the final
//! U go, and the rest (about k, for any spread of distances wider than the bound) are
//! computed exactly and selected as `by_heaps` selects. A query's candidates come from the
//! corpus in column parts when the queries are too few to keep the threads busy; the parts
//! merge by their upper bounds before the final selection.

use super::amx::{self, Session, BLOCK, STEP};
use super::bounds::{self, Terms};
use super::knn::Knn;
use super::select::{Ranked, TopK};
use super::tiles::blocks;
use super::Distances;
use crate::runtime::par;
use crate::{Error, Metric};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the approximate products come from.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Products {
    /// The CPU's AMX tile unit.
    Unit,
    /// The software model of it (tests, on machines without the unit).
    Portable,
}

#[cfg(test)]
impl Products {
    /// Every source this machine has: the model, and the unit where there is one.
    pub(crate) fn here() -> Vec<Products> {
        let mut kinds = vec![Products::Portable];
        if amx::available() {
            kinds.push(Products::Unit);
        }
        kinds
    }
}

/// The largest k this pass takes: each query holds up to 4k + 256 candidates.
const LARGEST_K: usize = 256;
/// Below this many multiply-adds the exact pass is as fast (its GEMM is short, and the bounds'
/// packing and per-query state cost as much): batch-hard mining of 1,024 rows took 1.6 ms
/// exact and 2.9 ms bounded, of 4,096 rows 18 and 10 ms; knn 64 × 10,000 1.6 ms either way.
const SMALLEST_WORK: usize = 1 << 28;
/// The packed queries of a row block, at most (they stay in L2 while the corpus streams by).
const QUERY_BYTES: usize = 1 << 20;
/// Corpus blocks between two looks at the stop flag.
const STOP_EVERY: usize = 64;

/// Whether `dist`'s search for k neighbours goes through the tile unit: the unit is there,
/// the work is large enough to pay for it, k is within `LARGEST_K`, the norms are within the
/// bound's range, and its memory fits the call's budget.
pub(crate) fn suits(dist: &Distances, k: usize) -> bool {
    let (a, b) = dist.sides();
    let d = a.cols();
    let work = dist.rows().saturating_mul(dist.cols()).saturating_mul(d);
    let fits = dist
        .call()
        .max_memory
        .is_none_or(|budget| footprint(dist.rows(), d, k) <= budget);
    amx::available()
        && (1..=LARGEST_K).contains(&k)
        && d >= STEP
        && bounds::usable_dim(d)
        && work >= SMALLEST_WORK
        && fits
        && bounds::usable(a.sq_norms())
        && bounds::usable(b.sq_norms())
}

/// Bytes the pass holds beyond its inputs: each query's bounds, candidates and exact list
/// at their most in every column part, and a thread's packed block of queries, block of the
/// corpus, and block of batch-hard's positives pass (`miners::hard_bounded`).
fn footprint(rows: usize, d: usize, k: usize) -> usize {
    let width = amx::padded(d);
    let per_query = 8 * (k + 1) + 8 * (4 * k + 256) + 16 * k;
    let positives = 4 * (256 + 2048) * d + 4 * 256 * 2048;
    let per_thread = 2 * width * query_block(d) + BLOCK * width * 2 + 8 * BLOCK * BLOCK;
    let threads = crate::threads();
    rows.saturating_mul(per_query).saturating_mul(threads) + threads * (per_thread + positives)
}

/// Query rows a block: the packed rows within `QUERY_BYTES`, whole blocks of 32.
fn query_block(d: usize) -> usize {
    let per_row = 2 * amx::padded(d);
    (QUERY_BYTES / per_row / BLOCK).clamp(1, 32) * BLOCK
}

/// One query's state in one column part.
#[derive(Default)]
struct Found {
    /// The k smallest upper bounds, as `ordered` bits (a max-heap).
    uppers: BinaryHeap<u32>,
    /// (lower bound, corpus index) of every candidate kept.
    kept: Vec<(f32, u32)>,
    /// The k nearest of the candidates already computed exactly: where more candidates than
    /// `kept` holds lie within the bounds' width of the k-th (collapsed or near-duplicate
    /// rows), they are computed and folded here, and U becomes this list's k-th.
    exact: Option<TopK>,
}

/// A U from an exact k-th distance `d`: its key in the bounds' terms, raised by a few units
/// of the last place so that the rounding of that key never excludes an equal distance.
fn exact_threshold(metric: Metric, d: f32) -> f32 {
    let key = bounds::bound_key(metric, d);
    key + key.abs() * (1.0 / 1_048_576.0) + f32::MIN_POSITIVE
}

/// Corpus rows a part scans before it may give up on the bounds, and the share of its
/// candidates (one in EXACT_SHARE) that, computed exactly by `collapse`, makes it give up.
const EXACT_AFTER: usize = 512;
const EXACT_SHARE: usize = 16;

/// The rest of a part (corpus rows `c0..c1`) by the exact pass: tiles of distances folded
/// into each query's exact list, but the columns `skips(q, j)`. Collapsed rows put most
/// candidates within the bounds' width, where the exact pass is faster than computing them
/// one by one (batch-hard of 8,192 collapsed rows: 0.58 s exact, 1.5 s one by one).
fn exact_rest(
    dist: &Distances,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    k: usize,
    skips: &dyn Fn(usize, usize) -> bool,
    mut found: Vec<Found>,
) -> Option<Vec<Found>> {
    const WIDTH: usize = 512;
    let mut buf = vec![0.0f32; (r1 - r0) * WIDTH];
    for t0 in (c0..c1).step_by(WIDTH) {
        if dist.stop().requested() {
            return None;
        }
        let t1 = (t0 + WIDTH).min(c1);
        let tile = &mut buf[..(r1 - r0) * (t1 - t0)];
        dist.tile(r0, r1, t0, t1, tile);
        for (q, (f, row)) in found.iter_mut().zip(tile.chunks(t1 - t0)).enumerate() {
            let top = f.exact.get_or_insert_with(|| TopK::new(k));
            for (jj, &d) in row.iter().enumerate() {
                if d <= top.threshold() && !skips(q, t0 + jj) {
                    top.push(Ranked {
                        d,
                        i: (t0 + jj) as u32,
                    });
                }
            }
        }
    }
    Some(found)
}

/// Computes `f.kept` exactly into `f.exact` and empties it; returns the U the exact list
/// gives once it holds k (else +∞).
fn collapse(dist: &Distances, row: usize, k: usize, f: &mut Found) -> f32 {
    let cols: Vec<u32> = f.kept.iter().map(|&(_, j)| j).collect();
    let mut d = vec![0.0f32; cols.len()];
    dist.distances_at(row, &cols, &mut d);
    let top = f.exact.get_or_insert_with(|| TopK::new(k));
    for (&j, &dj) in cols.iter().zip(&d) {
        top.push(Ranked { d: dj, i: j });
    }
    f.kept.clear();
    let metric = dist.sides().0.options().metric;
    if top.threshold().is_finite() {
        exact_threshold(metric, top.threshold())
    } else {
        f32::INFINITY
    }
}

/// f32 → u32 with the same order (for the finite values and infinities here).
fn ordered(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

fn unordered(o: u32) -> f32 {
    f32::from_bits(if o >> 31 == 1 { o & 0x7fff_ffff } else { !o })
}

/// Labels that keep a query from its own class: the queries' (the left side's rows) and the
/// candidates'. A candidate of the query's label is never offered (batch-hard's negatives).
pub(crate) type Classes<'l> = Option<(&'l [i32], &'l [i32])>;

/// Each query's k nearest, as `by_heaps` gives them (among the other classes' rows, with
/// `classes`).
pub(crate) fn by_bounds(
    dist: &Distances,
    k: usize,
    skip: impl Fn(usize) -> usize + Sync,
    classes: Classes,
    products: Products,
) -> Result<Vec<Knn>, Error> {
    let (a, b) = dist.sides();
    let (rows, cols, d) = (dist.rows(), dist.cols(), a.cols());
    let call = dist.call();
    let metric = a.options().metric;
    let centre = bounds::centre(metric, b.data(), b.rows(), d);
    // The corpus rows' norms about the centre, once for every row block.
    let corpus_sq: Option<Vec<f32>> = centre.as_deref().map(|m| {
        let starts: Vec<usize> = (0..b.rows()).step_by(4096).collect();
        par::map(starts, false, |r0| {
            let r1 = (r0 + 4096).min(b.rows());
            let moved = bounds::centred(&b.data()[r0 * d..r1 * d], Some(m));
            bounds::centred_norms(&moved, d, &b.sq_norms()[r0..r1], Some(m)).into_owned()
        })
        .concat()
    });
    let row_blocks = blocks(rows, query_block(d));
    let threads = crate::threads();
    let parts = if row_blocks.len() < threads {
        threads.div_ceil(row_blocks.len().max(1))
    } else {
        1
    };
    let per_part = cols.div_ceil(parts).div_ceil(BLOCK).max(1) * BLOCK;
    let ranges = blocks(cols, per_part);
    let left: Vec<AtomicUsize> = row_blocks
        .iter()
        .map(|_| AtomicUsize::new(ranges.len()))
        .collect();
    let items: Vec<_> = (0..row_blocks.len())
        .flat_map(|b| ranges.iter().map(move |&c| (b, c)))
        .collect();
    let found = par::map(items, false, |(b, range)| {
        let (r0, r1) = row_blocks[b];
        // The block's queries packed where they are used (a block in several parts packs
        // them once a part: few queries), so only the blocks in flight hold a copy.
        let rows_here = bounds::centred(&a.data()[r0 * d..r1 * d], centre.as_deref());
        let sq = &a.sq_norms()[r0..r1];
        let sq_c = bounds::centred_norms(&rows_here, d, sq, centre.as_deref());
        let queries = amx::pack_queries(&rows_here, r1 - r0, d);
        let terms = bounds::query_terms(metric, sq, &sq_c, d);
        let out = scan(
            dist,
            (&queries, &terms),
            (r0, r1),
            range,
            (k, &skip, classes),
            (products, centre.as_deref(), corpus_sq.as_deref()),
        );
        if out.is_some() && left[b].fetch_sub(1, Ordering::AcqRel) == 1 {
            call.advance(r1 - r0, rows);
        }
        out
    })
    .into_iter()
    .collect::<Option<Vec<Vec<Found>>>>()
    .ok_or(Error::Cancelled)?;
    // Per row block, its parts' states in column order; each query's lists merged.
    let mut found = found.into_iter();
    let per_block: Vec<(usize, Vec<Vec<Found>>)> = row_blocks
        .iter()
        .map(|&(r0, _)| (r0, found.by_ref().take(ranges.len()).collect()))
        .collect();
    par::map(per_block, false, |(r0, parts)| {
        if dist.stop().requested() {
            return None;
        }
        let queries = parts.first().map_or(0, Vec::len);
        let mut out = Knn::with_capacity(queries * k);
        let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        for q in 0..queries {
            let of_query: Vec<Found> = parts.iter_mut().filter_map(Iterator::next).collect();
            out.push_list(&select(dist, r0 + q, k, of_query), k);
        }
        Some(out)
    })
    .into_iter()
    .collect::<Option<Vec<Knn>>>()
    .ok_or(Error::Cancelled)
}

/// A query's k nearest from its parts' states: the final U from every part's upper bounds,
/// then the exact distances of the candidates at or under it.
fn select(dist: &Distances, row: usize, k: usize, mut parts: Vec<Found>) -> Vec<Ranked> {
    let mut uppers: Vec<u32> = parts
        .iter()
        .flat_map(|f| f.uppers.iter().copied())
        .collect();
    let u = if uppers.len() >= k {
        uppers.select_nth_unstable(k - 1);
        unordered(uppers[k - 1])
    } else {
        f32::INFINITY
    };
    let mut top = TopK::new(k);
    // Candidates already computed exactly (see `collapse`) come as they are.
    for f in &mut parts {
        if let Some(exact) = f.exact.take() {
            for r in exact.into_sorted() {
                top.push(r);
            }
        }
    }
    let near: Vec<u32> = parts
        .iter()
        .flat_map(|f| {
            f.kept
                .iter()
                .filter(|&&(lower, _)| lower <= u)
                .map(|&(_, j)| j)
        })
        .collect();
    let mut exact = vec![0.0f32; near.len()];
    dist.distances_at(row, &near, &mut exact);
    for (&j, &d) in near.iter().zip(&exact) {
        top.push(Ranked { d, i: j });
    }
    top.into_sorted()
}

/// One row block (`rows`) against one range of the corpus (`range`): each query's upper
/// bounds and candidates. `None` once the stop flag is raised.
fn scan(
    dist: &Distances,
    (queries, q_terms): (&[u16], &Terms),
    (r0, r1): (usize, usize),
    (lo, hi): (usize, usize),
    (k, skip, classes): (usize, &(impl Fn(usize) -> usize + Sync), Classes),
    (products, centre, corpus_sq): (Products, Option<&[f32]>, Option<&[f32]>),
) -> Option<Vec<Found>> {
    let (_, b) = dist.sides();
    let (d, metric) = (b.cols(), b.options().metric);
    let width = amx::padded(d);
    let beta = bounds::weight(metric);
    let nq = r1 - r0;
    let lanes = nq.div_ceil(BLOCK) * BLOCK;
    // U a query; −∞ for the padding lanes, so that nothing passes there.
    let mut u: Vec<f32> = (0..lanes)
        .map(|q| {
            if q < nq {
                f32::INFINITY
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let pad = |v: &[f32]| -> Vec<f32> {
        let mut p = v.to_vec();
        p.resize(lanes, 0.0);
        p
    };
    let (q_lo, q_hi, q_scale) = (pad(&q_terms.lo), pad(&q_terms.hi), pad(&q_terms.scale));
    // The lanes' labels and the candidates'; without classes the candidates' label is one no
    // lane has, so nothing is masked.
    let (q_class, c_class): (Vec<i32>, &[i32]) = match classes {
        Some((qs, cs)) => {
            let mut l = qs[r0..r1].to_vec();
            l.resize(lanes, 0);
            (l, cs)
        }
        None => (vec![0; lanes], &[]),
    };
    let no_class = [i32::MIN; BLOCK];
    let cap = 4 * k + 256;
    let mut found: Vec<Found> = (0..nq)
        .map(|_| Found {
            uppers: BinaryHeap::with_capacity(k + 1),
            kept: Vec::with_capacity(cap.min(4 * k + 16)),
            exact: None,
        })
        .collect();
    // Without the unit (which `suits` rules out) the software model gives the same lists.
    let session = match products {
        Products::Unit => Session::new(),
        Products::Portable => None,
    };
    let mut corpus = vec![0u16; BLOCK * width];
    let mut dots = vec![0.0f32; BLOCK * BLOCK];
    let mut hits: Vec<(u8, u8)> = Vec::new();
    let steps = width / STEP;
    // Candidates computed exactly by `collapse` so far, to notice rows the bounds cannot
    // separate (collapsed embeddings): their part then finishes by the exact pass.
    let mut collapsed = 0usize;
    for (n, j0) in (lo..hi).step_by(BLOCK).enumerate() {
        if n % STOP_EVERY == 0 && dist.stop().requested() {
            return None;
        }
        let seen = j0 - lo;
        if seen >= EXACT_AFTER && collapsed.saturating_mul(EXACT_SHARE) > nq.saturating_mul(seen) {
            drop(session);
            let same = |q: usize, j: usize| classes.is_some() && q_class[q] == c_class[j];
            let skips = |q: usize, j: usize| j == skip(r0 + q) || same(q, j);
            return exact_rest(dist, (r0, r1), (j0, hi), k, &skips, found);
        }
        let j1 = (j0 + BLOCK).min(hi);
        amx::to_bf16(&b.data()[j0 * d..j1 * d], d, width, centre, &mut corpus);
        corpus[(j1 - j0) * width..].iter_mut().for_each(|h| *h = 0);
        let sq = &b.sq_norms()[j0..j1];
        let sq_c = corpus_sq.map_or(sq, |n| &n[j0..j1]);
        let c = bounds::corpus_terms(metric, sq, sq_c, d);
        for qb in 0..lanes / BLOCK {
            let packed = &queries[qb * 2 * steps * 512..(qb + 1) * 2 * steps * 512];
            match &session {
                Some(s) => s.block(&corpus, width, packed, &mut dots),
                None => amx::block_portable(&corpus, width, packed, &mut dots),
            }
            let l = qb * BLOCK..(qb + 1) * BLOCK;
            hits.clear();
            let col_class = if classes.is_some() {
                &c_class[j0..j1]
            } else {
                &no_class[..j1 - j0]
            };
            sweep(
                &dots,
                beta,
                (&q_lo[l.clone()], &q_scale[l.clone()], &u[l.clone()]),
                (&c.lo, &c.scale),
                (&q_class[l], col_class),
                &mut hits,
            );
            for &(r, lane) in &hits {
                let (r, q) = (usize::from(r), qb * BLOCK + usize::from(lane));
                let j = j0 + r;
                if j == skip(r0 + q) {
                    continue;
                }
                let dot = dots[r * BLOCK + usize::from(lane)];
                let spread = q_scale[q] * c.scale[r];
                let lower = (q_lo[q] + c.lo[r]) - (beta * dot + spread);
                let upper = (q_hi[q] + c.hi[r]) - (beta * dot - spread);
                let f = &mut found[q];
                if f.uppers.len() < k || upper < u[q] {
                    f.uppers.push(ordered(upper));
                    if f.uppers.len() > k {
                        f.uppers.pop();
                    }
                    if f.uppers.len() == k {
                        u[q] = f.uppers.peek().map_or(f32::INFINITY, |&o| unordered(o));
                    }
                }
                if lower <= u[q] {
                    f.kept.push((lower, j as u32));
                    if f.kept.len() >= cap {
                        let t = u[q];
                        f.kept.retain(|&(l, _)| l <= t);
                        // Still more than half full: too many candidates lie within the
                        // bounds' width, so they are computed now (each at most once), which
                        // keeps a query's memory and time linear in the corpus.
                        if f.kept.len() > cap / 2 {
                            collapsed += f.kept.len();
                            u[q] = u[q].min(collapse(dist, r0 + q, k, f));
                        }
                    }
                }
            }
        }
    }
    drop(session);
    // What the part's own U rules out cannot come back: only the rest is held until the
    // parts merge.
    for (f, &t) in found.iter_mut().zip(&u) {
        f.kept.retain(|&(l, _)| l <= t);
        f.kept.shrink_to_fit();
    }
    Some(found)
}

/// The (corpus row, query lane) pairs of a block whose lower bound is at most the lane's U;
/// most rows have none.
fn sweep(
    dots: &[f32],
    beta: f32,
    q: (&[f32], &[f32], &[f32]),
    c: (&[f32], &[f32]),
    classes: (&[i32], &[i32]),
    hits: &mut Vec<(u8, u8)>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { sweep_avx512(dots, beta, q, c, classes, hits) };
    }
    sweep_portable(dots, beta, q, c, classes, hits)
}

/// `sweep` one element at a time, in the same operations.
fn sweep_portable(
    dots: &[f32],
    beta: f32,
    (q_lo, q_scale, u): (&[f32], &[f32], &[f32]),
    (c_lo, c_scale): (&[f32], &[f32]),
    (q_class, c_class): (&[i32], &[i32]),
    hits: &mut Vec<(u8, u8)>,
) {
    for (r, ((&cl, &cs), &cc)) in c_lo.iter().zip(c_scale).zip(c_class).enumerate() {
        for l in 0..BLOCK {
            let lower = (q_lo[l] + cl) - (beta * dots[r * BLOCK + l] + q_scale[l] * cs);
            if lower <= u[l] && q_class[l] != cc {
                hits.push((r as u8, l as u8));
            }
        }
    }
}

/// `sweep` on 16 lanes at a time, compared into a mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sweep_avx512(
    dots: &[f32],
    beta: f32,
    (q_lo, q_scale, u): (&[f32], &[f32], &[f32]),
    (c_lo, c_scale): (&[f32], &[f32]),
    (q_class, c_class): (&[i32], &[i32]),
    hits: &mut Vec<(u8, u8)>,
) {
    use std::arch::x86_64::*;
    assert!(
        dots.len() >= c_lo.len() * BLOCK
            && q_lo.len() >= BLOCK
            && q_scale.len() >= BLOCK
            && u.len() >= BLOCK
            && q_class.len() >= BLOCK
            && c_scale.len() >= c_lo.len()
            && c_class.len() >= c_lo.len()
    );
    // SAFETY: every load reads 16 floats inside the slices checked above.
    unsafe {
        let b = _mm512_set1_ps(beta);
        let lanes = |v: &[f32], h: usize| _mm512_loadu_ps(v.as_ptr().add(16 * h));
        let (lo, sc, th) = (
            [lanes(q_lo, 0), lanes(q_lo, 1)],
            [lanes(q_scale, 0), lanes(q_scale, 1)],
            [lanes(u, 0), lanes(u, 1)],
        );
        let class = |h: usize| _mm512_loadu_si512(q_class.as_ptr().add(16 * h).cast());
        let qc = [class(0), class(1)];
        for (r, ((&cl, &cs), &cc)) in c_lo.iter().zip(c_scale).zip(c_class).enumerate() {
            let (cl, cs, cc) = (
                _mm512_set1_ps(cl),
                _mm512_set1_ps(cs),
                _mm512_set1_epi32(cc),
            );
            let mut mask = 0u32;
            for h in 0..2 {
                let dot = _mm512_loadu_ps(dots.as_ptr().add(r * BLOCK + 16 * h));
                let near = _mm512_add_ps(lo[h], cl);
                let far = _mm512_add_ps(_mm512_mul_ps(b, dot), _mm512_mul_ps(sc[h], cs));
                let lower = _mm512_sub_ps(near, far);
                // Lanes of the candidate's own class are masked out.
                let m = _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(
                    _mm512_cmpneq_epi32_mask(qc[h], cc),
                    lower,
                    th[h],
                );
                mask |= u32::from(m) << (16 * h);
            }
            while mask != 0 {
                hits.push((r as u8, mask.trailing_zeros() as u8));
                mask &= mask - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distances::knn::tests::list_bits as bits;
    use crate::{Call, MatRef, Metric, MetricOptions};

    /// The lists through the bounds are the exact pass's, bit for bit, on every metric, for
    /// the software model and (where the CPU has one) the tile unit: rows with ties (each
    /// query twice in the corpus), −0, near-duplicates, a zero row and wide magnitudes, and
    /// with self-exclusion.
    #[test]
    fn bounded_lists_are_the_exact_lists() {
        let (nq, nc, d) = (45, 700, 37);
        let mut seed = 21u64;
        let mut q: Vec<f32> = (0..nq * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        q[..d].iter_mut().for_each(|x| *x *= 1e6);
        let mut c: Vec<f32> = (0..nc * d)
            .map(|_| crate::testing::lcg(&mut seed) * 0.5)
            .collect();
        for i in 0..nq {
            for at in [nc - 1 - 2 * i, 3 * i + 1] {
                c[at * d..(at + 1) * d].copy_from_slice(&q[i * d..(i + 1) * d]);
            }
        }
        // A near-duplicate and a zero row.
        for x in &mut c[5 * d..6 * d] {
            *x = *x * (1.0 + 1e-7) + 1e-9;
        }
        c[9 * d..10 * d].iter_mut().for_each(|x| *x = 0.0);
        let kinds = Products::here();
        for metric in [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Dot,
            Metric::Cosine,
        ] {
            let o = MetricOptions {
                metric,
                normalize: false,
            };
            let (q, c) = (
                MatRef::new(&q, nq, d).unwrap(),
                MatRef::new(&c, nc, d).unwrap(),
            );
            let dist = Distances::new(q, Some(c), o);
            for (k, ex) in [(1, false), (7, true), (40, false)] {
                let skip = |r: usize| if ex { 3 * r + 1 } else { usize::MAX };
                let want = bits(crate::distances::knn::by_heaps(&dist, k, skip, 1).unwrap());
                for &kind in &kinds {
                    let got = bits(by_bounds(&dist, k, skip, None, kind).unwrap());
                    assert_eq!(got, want, "{metric:?}, k = {k}, {kind:?}");
                }
            }
        }
    }

    /// Random shapes, metrics, k, self-exclusion and value scales (some rows with repeated
    /// values, so ties abound): the bounded lists are the exact pass's every time.
    #[test]
    fn random_configurations_agree_with_the_exact_pass() {
        let mut seed = 99u64;
        let mut pick =
            |n: usize| ((crate::testing::lcg(&mut seed) + 1.0) * 0.5 * n as f32) as usize;
        let metrics = [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Dot,
            Metric::Cosine,
        ];
        let kinds = Products::here();
        for round in 0..24 {
            let (nq, nc, d) = (1 + pick(80), 2 + pick(400), 1 + pick(70));
            let k = (1 + pick(30)).min(nc - 1);
            let metric = metrics[round % 4];
            let scale = [1e-3f32, 1.0, 3e4][round % 3];
            let coarse = round % 5 == 0;
            // Some rounds sit far from the origin: the euclidean products are then taken
            // about the rows' centre.
            let offset = if round % 4 == 2 { 5.0 * scale } else { 0.0 };
            let mut s2 = round as u64 + 1;
            let mut value = || {
                let v = crate::testing::lcg(&mut s2) * scale;
                offset
                    + if coarse {
                        (v / scale * 2.0).round() * scale
                    } else {
                        v
                    }
            };
            let q: Vec<f32> = (0..nq * d).map(|_| value()).collect();
            let c: Vec<f32> = (0..nc * d).map(|_| value()).collect();
            let o = MetricOptions {
                metric,
                normalize: round % 7 == 3,
            };
            let (q, c) = (
                MatRef::new(&q, nq, d).unwrap(),
                MatRef::new(&c, nc, d).unwrap(),
            );
            let dist = Distances::new(q, Some(c), o);
            let ex = round % 3 == 1;
            let skip = |r: usize| if ex { (r * 7) % nc } else { usize::MAX };
            let want = bits(crate::distances::knn::by_heaps(&dist, k, skip, 1).unwrap());
            for &kind in &kinds {
                let got = bits(by_bounds(&dist, k, skip, None, kind).unwrap());
                assert_eq!(
                    got, want,
                    "round {round}: {nq} × {nc} × {d}, k {k}, {metric:?}, {kind:?}"
                );
            }
        }
    }

    /// Collapsed rows (one row plus noise far below the bounds' width): nearly every
    /// candidate stays within the bounds, the kept lists overflow and are computed exactly as
    /// the pass goes. The lists are still the exact pass's.
    #[test]
    fn collapsed_rows_still_give_the_exact_lists() {
        let (nq, nc, d) = (37, 2500, 40);
        let mut seed = 5u64;
        let base: Vec<f32> = (0..d).map(|_| crate::testing::lcg(&mut seed)).collect();
        let mut rows = |n: usize| -> Vec<f32> {
            (0..n * d)
                .map(|i| base[i % d] + 1e-4 * crate::testing::lcg(&mut seed))
                .collect()
        };
        let (q, c) = (rows(nq), rows(nc));
        let kinds = Products::here();
        for metric in [Metric::Euclidean, Metric::Dot, Metric::Cosine] {
            let o = MetricOptions {
                metric,
                normalize: false,
            };
            let (q, c) = (
                MatRef::new(&q, nq, d).unwrap(),
                MatRef::new(&c, nc, d).unwrap(),
            );
            let dist = Distances::new(q, Some(c), o);
            for k in [1, 9] {
                let want =
                    bits(crate::distances::knn::by_heaps(&dist, k, |_| usize::MAX, 1).unwrap());
                for &kind in &kinds {
                    let got = bits(by_bounds(&dist, k, |_| usize::MAX, None, kind).unwrap());
                    assert_eq!(got, want, "{metric:?}, k = {k}, {kind:?}");
                }
            }
        }
    }

    /// A hand case: on a line, query 0.5 against 0, 1, 2, 3 (d padded to 32 with zeros in
    /// both), k = 2: 0 and 1 tie at 0.5, and the tie goes to the lower index.
    #[test]
    fn hand_worked_line() {
        let d = 32;
        let mut q = vec![0.0f32; d];
        q[0] = 0.5;
        let mut c = vec![0.0f32; 4 * d];
        for i in 0..4 {
            c[i * d] = i as f32;
        }
        let o = MetricOptions::default();
        let (q, c) = (
            MatRef::new(&q, 1, d).unwrap(),
            MatRef::new(&c, 4, d).unwrap(),
        );
        let dist = Distances::new(q, Some(c), o);
        let got = by_bounds(&dist, 2, |_| usize::MAX, None, Products::Portable).unwrap();
        assert_eq!(got[0].indices, vec![0, 1]);
        assert_eq!(got[0].distances, vec![0.5, 0.5]);
    }

    /// A raised stop flag ends the pass as `Cancelled`; a pass run to the end reports every
    /// query row once, in whatever parts it was cut.
    #[test]
    fn stops_and_reports_progress() {
        let (nq, nc, d) = (70, 300, 33);
        let mut seed = 4u64;
        let q: Vec<f32> = (0..nq * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        let c: Vec<f32> = (0..nc * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        let o = MetricOptions::default();
        let (q, c) = (
            MatRef::new(&q, nq, d).unwrap(),
            MatRef::new(&c, nc, d).unwrap(),
        );
        let done = AtomicUsize::new(0);
        let progress = |n: usize, total: usize| {
            assert_eq!(total, nq);
            done.fetch_add(n, Ordering::Relaxed);
        };
        let call = Call {
            progress: Some(&progress),
            ..Call::PLAIN
        };
        let dist = Distances::new(q, Some(c), o).with_call(call);
        by_bounds(&dist, 5, |_| usize::MAX, None, Products::Portable).unwrap();
        assert_eq!(done.load(Ordering::Relaxed), nq);
        let flag = std::sync::atomic::AtomicBool::new(true);
        let dist = Distances::new(q, Some(c), o).with_call(Call::stoppable(crate::Stop::on(&flag)));
        let err = by_bounds(&dist, 5, |_| usize::MAX, None, Products::Portable).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
    }

    #[test]
    fn ordered_bits_keep_the_order_of_floats() {
        let xs = [
            f32::NEG_INFINITY,
            -3.0,
            -0.5,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(ordered(w[0]) < ordered(w[1]), "{w:?}");
        }
        for &x in &xs {
            assert_eq!(unordered(ordered(x)), x);
        }
    }
}
