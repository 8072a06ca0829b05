//! The 16 smallest (distance, index) keys of a row, in order, by sorting networks in vector
//! registers: for knn's small k over short rows, where a selection's partitioning was most of
//! a 64 × 64 call.
//!
//! The row is cut into blocks of 64 keys, a block into eight pieces of 8, one register each.
//! The pieces are sorted side by side (a bitonic network of six compare-exchange stages; eight
//! independent chains keep the vector units busy), merged pairwise into sorted 16s, and those
//! into the block's lowest 16: of two sorted 16s x and y, min(x, y reversed) holds the lowest
//! 16 as a bitonic sequence, which four more stages sort. The kept 16 take each block the same
//! way; a block with no key below the largest kept is passed over. Keys are
//! `select::sort_key`s, unique by their index, so the result is the one a sort gives.

/// How many keys `smallest` keeps.
pub const KEPT: usize = 16;

/// The min(KEPT, row entries but `skip`) smallest keys of `row` (columns from 0), ascending,
/// into `out[..count]`; returns the count. `None` without AVX-512 (F and VL).
pub fn smallest(row: &[f32], skip: usize, out: &mut [u64; KEPT]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && row.len() < u32::MAX as usize
    {
        // SAFETY: the CPU has AVX-512F and VL.
        return Some(unsafe { smallest_avx512(row, skip, out) });
    }
    let _ = (row, skip, out);
    None
}

/// Which lanes of an 8-lane compare-exchange at partner distance `j`, within sorted runs of
/// `k`, take the larger key (bitonic sort, ascending).
#[cfg(target_arch = "x86_64")]
const fn takes_max(k: usize, j: usize) -> u8 {
    let mut mask = 0u8;
    let mut i = 0;
    while i < 8 {
        let lower = i & j == 0;
        let ascending = i & k == 0;
        if lower != ascending {
            mask |= 1 << i;
        }
        i += 1;
    }
    mask
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn smallest_avx512(row: &[f32], skip: usize, out: &mut [u64; KEPT]) -> usize {
    use std::arch::x86_64::*;
    // Lane i's partner i ^ j (`_mm512_set_epi64` lists lanes from 7 down to 0).
    let partner = |j: usize| match j {
        1 => _mm512_set_epi64(6, 7, 4, 5, 2, 3, 0, 1),
        2 => _mm512_set_epi64(5, 4, 7, 6, 1, 0, 3, 2),
        _ => _mm512_set_epi64(3, 2, 1, 0, 7, 6, 5, 4),
    };
    let (p1, p2, p4) = (partner(1), partner(2), partner(4));
    // The lanes in `max` take the larger of each pair, the others the smaller.
    let exchange = |v: __m512i, p: __m512i, max: u8| {
        let w = _mm512_permutexvar_epi64(p, v);
        _mm512_mask_max_epu64(_mm512_min_epu64(v, w), max, v, w)
    };
    // A bitonic sequence of 8 into ascending order.
    let merge = |v: __m512i| {
        let v = exchange(v, p4, takes_max(8, 4));
        let v = exchange(v, p2, takes_max(8, 2));
        exchange(v, p1, takes_max(8, 1))
    };
    let sort = |v: __m512i| {
        let v = exchange(v, p1, takes_max(2, 1));
        let v = exchange(v, p2, takes_max(4, 2));
        let v = exchange(v, p1, takes_max(4, 1));
        merge(v)
    };
    let reverse =
        |v: __m512i| _mm512_permutexvar_epi64(_mm512_set_epi64(0, 1, 2, 3, 4, 5, 6, 7), v);
    // Two sorted 8s into a sorted 16: [a, b reversed] is bitonic.
    let sixteen = |a: __m512i, b: __m512i| {
        let b = reverse(b);
        (merge(_mm512_min_epu64(a, b)), merge(_mm512_max_epu64(a, b)))
    };
    // The lower 16 of two sorted 16s: x against y reversed, element by element, is bitonic.
    let lower = |(x0, x1): (__m512i, __m512i), (y0, y1): (__m512i, __m512i)| {
        let (l0, l1) = (
            _mm512_min_epu64(x0, reverse(y1)),
            _mm512_min_epu64(x1, reverse(y0)),
        );
        (
            merge(_mm512_min_epu64(l0, l1)),
            merge(_mm512_max_epu64(l0, l1)),
        )
    };
    let none = _mm512_set1_epi64(-1);
    let lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let sign = _mm256_set1_epi32(i32::MIN);
    let n = row.len();
    // Eight `sort_key`s from column j0: d + 0 (−0 joins +0), a negative's bits flipped, a
    // positive's sign bit set, the index below; past the row and at `skip`, none.
    let keys = |j0: usize| {
        let live: __mmask8 = if n - j0.min(n) >= 8 {
            0xff
        } else {
            (1u8 << (n - j0.min(n))) - 1
        };
        // SAFETY: the masked load reads only the live lanes, inside `row`.
        let d = unsafe { _mm256_maskz_loadu_ps(live, row.as_ptr().add(j0.min(n))) };
        let bits = _mm256_castps_si256(_mm256_add_ps(d, _mm256_setzero_ps()));
        let negative = _mm256_cmplt_epi32_mask(bits, _mm256_setzero_si256());
        let ordered = _mm256_mask_blend_epi32(
            negative,
            _mm256_or_si256(bits, sign),
            _mm256_xor_si256(bits, _mm256_set1_epi32(-1)),
        );
        let index = _mm512_add_epi64(_mm512_set1_epi64(j0 as i64), lanes);
        let key = _mm512_or_si512(
            _mm512_slli_epi64::<32>(_mm512_cvtepu32_epi64(ordered)),
            index,
        );
        let own = _mm512_cmpeq_epi64_mask(index, _mm512_set1_epi64(skip as i64));
        _mm512_mask_mov_epi64(none, live & !own, key)
    };
    let mut kept = (none, none);
    for b0 in (0..n).step_by(64) {
        // A block of 64: its eight pieces sorted side by side (independent chains), then
        // merged in a tree, then into the kept 16.
        let piece: [__m512i; 8] = std::array::from_fn(|p| keys(b0 + 8 * p));
        let largest = _mm512_permutexvar_epi64(_mm512_set1_epi64(7), kept.1);
        let below = piece
            .iter()
            .fold(0u8, |m, &v| m | _mm512_cmplt_epu64_mask(v, largest));
        if below == 0 {
            continue;
        }
        let s = piece.map(sort);
        let (a, b, c, d) = (
            sixteen(s[0], s[1]),
            sixteen(s[2], s[3]),
            sixteen(s[4], s[5]),
            sixteen(s[6], s[7]),
        );
        let block = lower(lower(a, b), lower(c, d));
        kept = if b0 == 0 { block } else { lower(kept, block) };
    }
    // SAFETY: `out` holds 16 keys.
    unsafe {
        _mm512_storeu_si512(out.as_mut_ptr().cast(), kept.0);
        _mm512_storeu_si512(out.as_mut_ptr().add(8).cast(), kept.1);
    }
    let valid = n - usize::from(skip < n);
    valid.min(KEPT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distances::select::sort_key;

    /// Against a sort of every key: rows of every length to 100 with ties, ±0, ±∞, negative
    /// distances, and the skipped column anywhere or nowhere.
    #[test]
    fn the_smallest_keys_are_a_sorts_first() {
        let mut seed = 4u64;
        for n in 0..100usize {
            let row: Vec<f32> = (0..n)
                .map(|j| match j % 11 {
                    3 => 0.0,
                    5 => -0.0,
                    7 => f32::INFINITY,
                    8 => f32::NEG_INFINITY,
                    _ => (crate::testing::lcg(&mut seed) * 4.0).round() / 2.0,
                })
                .collect();
            for skip in [0, n / 3, n.saturating_sub(1), usize::MAX] {
                let mut want: Vec<u64> = (0..n)
                    .filter(|&j| j != skip)
                    .map(|j| sort_key(row[j], j as u32))
                    .collect();
                want.sort_unstable();
                want.truncate(KEPT);
                let mut out = [0u64; KEPT];
                let Some(count) = smallest(&row, skip, &mut out) else {
                    eprintln!("no AVX-512 (F and VL) here: knn selects by `select_nth_unstable`");
                    return;
                };
                assert_eq!(&out[..count], &want[..], "n {n} skip {skip}");
            }
        }
    }
}
