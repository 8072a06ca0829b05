//! Batch-semihard mining's per-row pass: FaceNet's online semi-hard negatives, as TensorFlow
//! Addons' TripletSemiHardLoss. For each positive pair, the nearest negative farther than the
//! positive; failing that, the farthest negative.
//!
//! A negative at distance d serves exactly the positives closer than d, a prefix of the
//! positives sorted by distance. Each negative goes into the bucket at the end of its prefix
//! (the count of positives below it), a suffix minimum over the buckets then gives every
//! positive its nearest farther negative. The counts of 16 entries are taken at once, one
//! vector comparison per positive; the row's own
//! class is set to −∞ first, which keeps it out of every bucket and below every finite
//! negative, so the loop needs no labels.
use crate::distances::select::{key_index, sort_key};

/// Reused per block of rows: no allocation per anchor.
#[derive(Default)]
pub(crate) struct Scratch {
    positives: Vec<(usize, f32)>,
    sorted: Vec<f32>,
    buckets: Vec<u64>,
}

/// Calls `emit(p, n)` for each positive `p` of the anchor whose distances are `row`, in
/// ascending `p`, with its semi-hard negative `n`. `class` holds the columns of the anchor's
/// class in ascending order, and `own` the anchor's own column among them (excluded from its
/// positives). The row is scratch: the class's entries are overwritten.
pub(crate) fn semihard_row(
    row: &mut [f32],
    class: &[usize],
    own: Option<usize>,
    s: &mut Scratch,
    mut emit: impl FnMut(usize, usize),
) {
    s.positives.clear();
    s.positives.extend(
        class
            .iter()
            .filter(|&&j| Some(j) != own)
            .map(|&j| (j, row[j])),
    );
    if s.positives.is_empty() {
        return;
    }
    s.sorted.clear();
    s.sorted.extend(s.positives.iter().map(|p| p.1));
    s.sorted.sort_by(f32::total_cmp);
    for &j in class {
        row[j] = f32::NEG_INFINITY;
    }
    // Bucket 0 collects what serves no positive; bucket c (1..=P) the negatives that exactly
    // c positives are closer than.
    s.buckets.clear();
    s.buckets.resize(s.sorted.len() + 1, u64::MAX);
    // Every entry −∞: the negatives (if any) all tie at −∞, and the first is the farthest.
    let farthest = scan(row, &s.sorted, &mut s.buckets).or_else(|| first_outside(class, row.len()));
    let Some(farthest) = farthest else {
        return; // no negative at all
    };
    for c in (1..s.sorted.len()).rev() {
        s.buckets[c] = s.buckets[c].min(s.buckets[c + 1]);
    }
    for &(p, d) in &s.positives {
        let rank = s.sorted.partition_point(|&v| v < d);
        let key = s.buckets[rank + 1];
        emit(
            p,
            if key == u64::MAX {
                farthest
            } else {
                key_index(key)
            },
        );
    }
}

/// The first column below `n` that is not in `class` (ascending).
fn first_outside(class: &[usize], n: usize) -> Option<usize> {
    let taken = class
        .iter()
        .enumerate()
        .take_while(|&(i, &j)| i == j)
        .count();
    (taken < n).then_some(taken)
}

/// Fills the buckets from one row and returns the farthest negative's first column, `None`
/// when every entry is −∞ (the row has no negative). Picks the widest vector unit present.
fn scan(row: &[f32], sorted: &[f32], buckets: &mut [u64]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { scan_avx512(row, sorted, buckets) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { scan_avx2(row, sorted, buckets) };
        }
    }
    scan_any(row, sorted, buckets)
}

/// The counting pass in AVX-512 intrinsics: a 16-lane compare-and-add per positive; then the
/// farthest entry by a vector maximum and a vector search for its first column.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn scan_avx512(row: &[f32], sorted: &[f32], buckets: &mut [u64]) -> Option<usize> {
    use std::arch::x86_64::*;
    let searched = match sorted.len() {
        0..=31 => scan_avx512_search::<32, 1>(row, sorted, buckets),
        32..=127 => scan_avx512_search::<128, 4>(row, sorted, buckets),
        _ => None,
    };
    if let Some(found) = searched {
        return found;
    }
    buckets.fill(u64::MAX); // a +∞ entry (or a class too large): the general pass below
    if sorted.len() > 128 {
        return scan_any(row, sorted, buckets);
    }
    let full = row.len() / 16 * 16;
    let one = _mm512_set1_epi32(1);
    let mut top = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut counts = [0u32; 16];
    for j0 in (0..full).step_by(16) {
        // SAFETY: j0 + 16 <= full <= row.len().
        let v = unsafe { _mm512_loadu_ps(row.as_ptr().add(j0)) };
        top = _mm512_max_ps(top, v);
        let mut c = _mm512_setzero_si512();
        for &p in sorted {
            let below = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_set1_ps(p));
            c = _mm512_mask_add_epi32(c, below, c, one);
        }
        // SAFETY: `counts` holds 16 u32s.
        unsafe { _mm512_storeu_si512(counts.as_mut_ptr().cast(), c) };
        for (l, &c) in counts.iter().enumerate() {
            keep(buckets, c as usize, row[j0 + l], j0 + l);
        }
    }
    let mut max = _mm512_reduce_max_ps(top);
    for (j, &d) in row.iter().enumerate().skip(full) {
        keep(buckets, sorted.iter().filter(|&&p| p < d).count(), d, j);
        max = if d > max { d } else { max };
    }
    first_of(row, max, full)
}

/// Fewer than T positives (T = 32 or 128), padded with +∞ to T: each entry's count is a
/// binary search (log₂ T steps) run on 16 entries at once, reading the table by a
/// two-register permute (T = 32) or a gather from L1 (T = 128: 7 gathers for 16 entries where
/// counting took 127 compares), LANES vectors at a time. The buckets' current minima are then gathered to reject, 16 at
/// a time, the entries that improve none (nearly all of them once the buckets fill). Columns
/// go in ascending order, so a strict `<` keeps the lowest column on a tie. An empty bucket
/// holds +∞ here, which a +∞ entry cannot beat: `None` when the row has one, for the general
/// pass to redo it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn scan_avx512_search<const T: usize, const LANES: usize>(
    row: &[f32],
    sorted: &[f32],
    buckets: &mut [u64],
) -> Option<Option<usize>> {
    use std::arch::x86_64::*;
    assert!(sorted.len() < T && (T == 32 || T == 128) && buckets.len() > sorted.len());
    let mut table = [f32::INFINITY; T];
    table[..sorted.len()].copy_from_slice(sorted);
    let mut best = [f32::INFINITY; T];
    let mut at = [u32::MAX; T];
    // SAFETY: `table` holds 32 floats.
    let (lo, hi) = unsafe {
        (
            _mm512_loadu_ps(table.as_ptr()),
            _mm512_loadu_ps(table.as_ptr().add(16)),
        )
    };
    let full = row.len() / 16 * 16;
    let mut top = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut counts = [0u32; 16];
    // The searches of LANES vectors run side by side: each step waits on the one before (a
    // gather's latency, for T = 128), and independent searches fill those waits (128 positives
    // a class at N = 16,384: 1.07 s → 0.70 s). A permute's is short: T = 32 takes one at a time.
    for j0 in (0..full).step_by(16 * LANES) {
        let n = ((full - j0) / 16).min(LANES);
        let mut v = [_mm512_set1_ps(f32::NEG_INFINITY); LANES];
        for (u, vu) in v.iter_mut().enumerate().take(n) {
            // SAFETY: j0 + 16·(u + 1) <= full <= row.len().
            *vu = unsafe { _mm512_loadu_ps(row.as_ptr().add(j0 + 16 * u)) };
            top = _mm512_max_ps(top, *vu);
        }
        let mut c = [_mm512_setzero_si512(); LANES];
        let mut step = T as i32 / 2;
        while step > 0 {
            for (cu, &vu) in c.iter_mut().zip(&v) {
                let probe = _mm512_add_epi32(*cu, _mm512_set1_epi32(step - 1));
                let entry = if T == 32 {
                    _mm512_permutex2var_ps(lo, probe, hi)
                } else {
                    // SAFETY: every probe is below T, inside `table`.
                    unsafe { _mm512_i32gather_ps::<4>(probe, table.as_ptr()) }
                };
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(entry, vu);
                *cu = _mm512_mask_add_epi32(*cu, below, *cu, _mm512_set1_epi32(step));
            }
            step /= 2;
        }
        // In column order, so that an earlier column's update is seen by a later one.
        for u in 0..n {
            let at0 = j0 + 16 * u;
            // SAFETY: every count is below T, inside `best`'s T floats.
            let current = unsafe { _mm512_i32gather_ps::<4>(c[u], best.as_ptr()) };
            let improves = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v[u], current);
            if improves != 0 {
                // SAFETY: `counts` holds 16 u32s.
                unsafe { _mm512_storeu_si512(counts.as_mut_ptr().cast(), c[u]) };
                let mut lanes = improves;
                while lanes != 0 {
                    let l = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    let (b, d) = (counts[l] as usize, row[at0 + l]);
                    if d < best[b] {
                        best[b] = d;
                        at[b] = (at0 + l) as u32;
                    }
                }
            }
        }
    }
    let mut max = _mm512_reduce_max_ps(top);
    for (j, &d) in row.iter().enumerate().skip(full) {
        let b = sorted.iter().filter(|&&p| p < d).count();
        if d < best[b] {
            best[b] = d;
            at[b] = j as u32;
        }
        max = if d > max { d } else { max };
    }
    if max == f32::INFINITY {
        return None;
    }
    for (b, (&d, &j)) in buckets.iter_mut().zip(best.iter().zip(&at)).skip(1) {
        if j != u32::MAX {
            *b = sort_key(d, j);
        }
    }
    Some(first_of(row, max, full))
}

/// The first column holding `max` (`None` for −∞: no negative), by a vector search over the
/// first `full` columns, then the rest.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn first_of(row: &[f32], max: f32, full: usize) -> Option<usize> {
    use std::arch::x86_64::*;
    if max == f32::NEG_INFINITY {
        return None;
    }
    let target = _mm512_set1_ps(max);
    for j0 in (0..full).step_by(16) {
        // SAFETY: j0 + 16 <= full <= row.len().
        let v = unsafe { _mm512_loadu_ps(row.as_ptr().add(j0)) };
        let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, target);
        if hit != 0 {
            return Some(j0 + hit.trailing_zeros() as usize);
        }
    }
    row[full..].iter().position(|&d| d == max).map(|j| full + j)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(row: &[f32], sorted: &[f32], buckets: &mut [u64]) -> Option<usize> {
    scan_any(row, sorted, buckets)
}

#[inline(always)]
fn scan_any(row: &[f32], sorted: &[f32], buckets: &mut [u64]) -> Option<usize> {
    if sorted.len() <= 128 {
        bucket_count(row, sorted, buckets);
    } else {
        bucket_search(row, sorted, buckets);
    }
    let max = row
        .iter()
        .fold(f32::NEG_INFINITY, |m, &d| if d > m { d } else { m });
    if max == f32::NEG_INFINITY {
        return None;
    }
    row.iter().position(|&d| d == max)
}

#[inline(always)]
fn keep(buckets: &mut [u64], c: usize, d: f32, j: usize) {
    let k = sort_key(d, j as u32);
    if k < buckets[c] {
        buckets[c] = k;
    }
}

/// A few dozen positives: the count of positives below each of 16 entries at once, one
/// comparison per positive (a vector compare-and-add), then one bucket update per entry.
#[inline(always)]
fn bucket_count(row: &[f32], sorted: &[f32], buckets: &mut [u64]) {
    const L: usize = 16;
    let mut chunks = row.chunks_exact(L);
    let mut j0 = 0;
    for chunk in &mut chunks {
        let mut c = [0u32; L];
        for &p in sorted {
            for l in 0..L {
                c[l] += u32::from(p < chunk[l]);
            }
        }
        for l in 0..L {
            keep(buckets, c[l] as usize, chunk[l], j0 + l);
        }
        j0 += L;
    }
    for (l, &d) in chunks.remainder().iter().enumerate() {
        let c = sorted.iter().filter(|&&p| p < d).count();
        keep(buckets, c, d, j0 + l);
    }
}

/// Many positives: a binary search for the count.
#[inline(always)]
fn bucket_search(row: &[f32], sorted: &[f32], buckets: &mut [u64]) {
    for (j, &d) in row.iter().enumerate() {
        keep(buckets, sorted.partition_point(|&p| p < d), d, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::lcg;

    /// The definition, one positive at a time: the nearest negative (lowest column on a tie)
    /// farther than the positive, else the first farthest negative.
    fn by_definition(row: &[f32], class: &[usize], own: Option<usize>) -> Vec<(usize, usize)> {
        let negatives: Vec<usize> = (0..row.len()).filter(|j| !class.contains(j)).collect();
        let Some(&first) = negatives.first() else {
            return vec![];
        };
        let farthest = negatives
            .iter()
            .fold(first, |f, &j| if row[j] > row[f] { j } else { f });
        let mut out = vec![];
        for &p in class.iter().filter(|&&p| Some(p) != own) {
            let nearer = negatives
                .iter()
                .filter(|&&j| row[j] > row[p])
                .min_by(|&&i, &&j| sort_key(row[i], i as u32).cmp(&sort_key(row[j], j as u32)));
            out.push((p, nearer.copied().unwrap_or(farthest)));
        }
        out
    }

    fn mine(row: &[f32], class: &[usize], own: Option<usize>) -> Vec<(usize, usize)> {
        let mut row = row.to_vec();
        let mut out = vec![];
        semihard_row(&mut row, class, own, &mut Scratch::default(), |p, n| {
            out.push((p, n))
        });
        out
    }

    #[test]
    fn matches_the_definition_on_random_rows() {
        let mut seed = 7u64;
        // Odd widths around the 16-lane chunks; class sizes on both sides of 128 (the
        // counting and the searching passes); coarse values for ties; some negative
        // distances (the dot metric) and −0.
        for &n in &[1usize, 2, 15, 16, 17, 33, 200, 301] {
            for &members in &[0usize, 1, 2, 9, 40, 129, 150] {
                for round in 0..3 {
                    let row: Vec<f32> = (0..n)
                        .map(|_| match round {
                            0 => lcg(&mut seed),
                            1 => (lcg(&mut seed) * 4.0).round() * 0.5,
                            _ => match (lcg(&mut seed) * 3.0).round() * 0.25 {
                                0.0 if lcg(&mut seed) > 0.0 => -0.0,
                                v => v,
                            },
                        })
                        .collect();
                    let step = (n / members.max(1)).max(1);
                    let class: Vec<usize> = (0..n).step_by(step).take(members).collect();
                    let own = class.first().copied();
                    for own in [own, None] {
                        assert_eq!(
                            mine(&row, &class, own),
                            by_definition(&row, &class, own),
                            "n {n}, class {members}, round {round}, own {own:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_vector_unit_fills_the_same_buckets() {
        let mut seed = 11u64;
        for &n in &[5usize, 16, 47, 1000] {
            for &p in &[1usize, 7, 31, 32, 64, 128, 129, 300] {
                // Some rows hold ±∞ (−∞: the anchor's class; +∞: an overflowed distance).
                for odd in [None, Some(f32::NEG_INFINITY), Some(f32::INFINITY)] {
                    let mut row: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
                    if let Some(v) = odd {
                        row[n / 2] = v;
                        row[n - 1] = v;
                    }
                    let mut sorted: Vec<f32> = (0..p).map(|_| lcg(&mut seed)).collect();
                    sorted.sort_by(f32::total_cmp);
                    let mut any = vec![u64::MAX; p + 1];
                    let mut best = vec![u64::MAX; p + 1];
                    let far_any = scan_any(&row, &sorted, &mut any);
                    let far_best = scan(&row, &sorted, &mut best);
                    // Bucket 0 is a dummy: what serves no positive.
                    assert_eq!(
                        (far_any, &any[1..]),
                        (far_best, &best[1..]),
                        "n {n}, p {p}, {odd:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn negatives_all_at_minus_infinity_still_give_the_first_as_farthest() {
        let row = [f32::NEG_INFINITY, 0.5, f32::NEG_INFINITY];
        assert_eq!(mine(&row, &[1], None), vec![(1, 0)]);
        assert_eq!(mine(&[0.1, 0.2], &[0, 1], Some(0)), vec![]);
    }
}
