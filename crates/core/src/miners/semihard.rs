//! Batch-semihard mining's search: FaceNet's online semi-hard negatives, as TensorFlow
//! Addons' TripletSemiHardLoss. For each positive pair, the nearest negative farther than the
//! positive; failing that, the farthest negative.
//!
//! A negative at distance d serves exactly the positives closer than d, a prefix of the
//! positives sorted by distance. Each negative goes into the bucket at the end of its prefix
//! (the count of positives below it), a suffix minimum over the buckets then gives every
//! positive its nearest farther negative. The anchor's own class is set to −∞ first, which
//! keeps it out of every bucket and below every finite negative, so the search needs no
//! labels.
//!
//! An anchor's buckets take its row in pieces, in any order of columns: each keeps its
//! nearest entry, ties to the lower column, so the pieces may come from any tiles
//! (`semihard_upper` feeds each tile to the anchors of its rows and of its columns).
use crate::distances::select::{key_index, sort_key};

/// The buckets an anchor with `positives` positives needs: the vector search's table sizes,
/// 32 or 128, where they fit, else one more than the positives (bucket 0 collects what
/// serves no positive).
pub(crate) fn buckets_for(positives: usize) -> usize {
    match positives {
        0..=31 => 32,
        32..=127 => 128,
        p => p + 1,
    }
}

/// An anchor's table for `buckets` buckets (2 × `buckets` floats) from its positives'
/// distances: the distances ascending, padded with +∞ (an entry's bucket is the count of them
/// below it), then the same values in the order the 128-bucket vector search reads them
/// (`search_order`). `ranks[k]` gets positive k's place in that order: the count of
/// positives closer, plus any tied with it that the sort put first, which reads the same
/// suffix of buckets (no entry's count lands inside a run of ties).
pub(crate) fn fill_table(
    distances: &[f32],
    buckets: usize,
    table: &mut [f32],
    ranks: &mut [u32],
    keys: &mut Vec<u64>,
) {
    let (sorted, order) = table[..2 * buckets].split_at_mut(buckets);
    sorted[distances.len()..].fill(f32::INFINITY);
    if distances.len() <= RANK_BY_COUNTING && rank_by_counting(distances, ranks) {
        for (&d, &r) in distances.iter().zip(ranks.iter()) {
            sorted[r as usize] = d;
        }
        return search_order(sorted, order);
    }
    keys.clear();
    keys.extend(
        distances
            .iter()
            .enumerate()
            .map(|(k, &d)| sort_key(d, k as u32)),
    );
    keys.sort_unstable();
    for (i, &key) in keys.iter().enumerate() {
        let k = key_index(key);
        sorted[i] = distances[k];
        ranks[k] = i as u32;
    }
    search_order(sorted, order);
}

/// Up to this many positives, ranks by counting (a few vector compares each) beat the sort:
/// 31 positives a row at N = 64 spent 14 % of batch-semihard in the sort.
const RANK_BY_COUNTING: usize = 32;

/// `ranks[k]`: the count of entries before entry k in (distance, index) order, −0 and +0
/// equal: the place the sort by `sort_key` gives it. `false` where the CPU has no AVX-512
/// (the caller sorts).
fn rank_by_counting(distances: &[f32], ranks: &mut [u32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            unsafe { rank_avx512(distances, ranks) };
            return true;
        }
    }
    let _ = (distances, ranks);
    false
}

/// 32 entries at most: each one's count of entries below it (or equal and earlier), two
/// vector compares of all of them at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn rank_avx512(distances: &[f32], ranks: &mut [u32]) {
    use std::arch::x86_64::*;
    let n = distances.len();
    assert!(n <= 32 && ranks.len() >= n);
    let mut padded = [f32::INFINITY; 32];
    padded[..n].copy_from_slice(distances);
    // SAFETY: `padded` holds 32 floats.
    let (lo, hi) = unsafe {
        (
            _mm512_loadu_ps(padded.as_ptr()),
            _mm512_loadu_ps(padded.as_ptr().add(16)),
        )
    };
    let valid = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    for (k, (&d, rank)) in distances.iter().zip(ranks.iter_mut()).enumerate() {
        let b = _mm512_set1_ps(d);
        let both = |l: u16, h: u16| u32::from(l) | u32::from(h) << 16;
        let lt = both(
            _mm512_cmp_ps_mask::<_CMP_LT_OQ>(lo, b),
            _mm512_cmp_ps_mask::<_CMP_LT_OQ>(hi, b),
        );
        let eq = both(
            _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(lo, b),
            _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(hi, b),
        );
        let earlier = (1u32 << k) - 1;
        *rank = ((lt | (eq & earlier)) & valid).count_ones();
    }
}

/// The binary search of a 128-entry table level by level, as a heap: level L (0 to 6) probes
/// entry k·2s + s − 1 of the sorted table (s = 64 >> L) for its k-th node, k below 2^L, kept
/// at 2^L + k. Levels 0 to 3 fill entries 1 to 15, level 4 16 to 31, level 5 32 to 63 and
/// level 6 64 to 127: one, one, two and four vector registers, each read by the node's place
/// with no offset (a permute reads an index's low bits).
fn search_order(sorted: &[f32], order: &mut [f32]) {
    order.fill(f32::INFINITY);
    if sorted.len() != 128 {
        return;
    }
    for level in 0..7 {
        let s = 64 >> level;
        for k in 0..1 << level {
            order[(1 << level) + k] = sorted[k * 2 * s + s - 1];
        }
    }
}

/// One anchor's running search, over slices its owner keeps: per bucket the nearest entry so
/// far (distance, column; +∞ and `u32::MAX` when empty), and the farthest entry (−∞ and
/// `u32::MAX` before any).
pub(crate) struct Found<'s> {
    pub best: &'s mut [f32],
    pub at: &'s mut [u32],
    pub far: &'s mut (f32, u32),
}

/// An empty bucket, and the farthest entry before any.
pub(crate) const EMPTY: (f32, u32) = (f32::INFINITY, u32::MAX);
pub(crate) const NO_FARTHEST: (f32, u32) = (f32::NEG_INFINITY, u32::MAX);

/// Reused per block of rows: no allocation per anchor.
#[derive(Default)]
pub(crate) struct Scratch {
    columns: Vec<usize>,
    distances: Vec<f32>,
    ranks: Vec<u32>,
    table: Vec<f32>,
    best: Vec<f32>,
    at: Vec<u32>,
    keys: Vec<u64>,
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
    emit: impl FnMut(usize, usize),
) {
    s.columns.clear();
    s.columns
        .extend(class.iter().copied().filter(|&j| Some(j) != own));
    if s.columns.is_empty() {
        return;
    }
    s.distances.clear();
    s.distances.extend(s.columns.iter().map(|&j| row[j]));
    let t = buckets_for(s.columns.len());
    s.table.resize(2 * t, 0.0);
    s.ranks.resize(s.columns.len(), 0);
    fill_table(&s.distances, t, &mut s.table, &mut s.ranks, &mut s.keys);
    for &j in class {
        row[j] = f32::NEG_INFINITY;
    }
    s.best.clear();
    s.best.resize(t, EMPTY.0);
    s.at.clear();
    s.at.resize(t, EMPTY.1);
    let mut far = NO_FARTHEST;
    let found = &mut Found {
        best: &mut s.best,
        at: &mut s.at,
        far: &mut far,
    };
    scan(row, 0, &s.table, found);
    let positives = s.columns.iter().copied().zip(s.ranks.iter().copied());
    let found = (&s.best[..], &s.at[..], far);
    finish(
        positives,
        s.columns.len(),
        found,
        class,
        row.len(),
        &mut s.keys,
        emit,
    );
}

/// Emits each of the `p` positives (`(column, rank)` as `fill_table` ranks them, ascending
/// columns) with its semi-hard negative, from an anchor's buckets filled over its whole row
/// (`found`: a `Found`'s best, at and far). `class` and `n` (the row's width) find the
/// farthest negative when every negative is at −∞. Emits exactly one triplet a positive,
/// or none where the class holds all n columns (no negative): `semihard_upper` sizes its
/// result by this.
pub(crate) fn finish(
    positives: impl Iterator<Item = (usize, u32)>,
    p: usize,
    found: (&[f32], &[u32], (f32, u32)),
    class: &[usize],
    n: usize,
    keys: &mut Vec<u64>,
    mut emit: impl FnMut(usize, usize),
) {
    let (best, at, far) = found;
    // Every entry −∞: the negatives (if any) all tie at −∞, and the first is the farthest.
    let farthest = match far.1 {
        u32::MAX => first_outside(class, n),
        j => Some(j as usize),
    };
    let Some(farthest) = farthest else {
        return; // no negative at all
    };
    // Bucket c's key becomes the nearest over buckets c..=p: the running minimum stays in a
    // register (reading back the entry just stored serialised the loop on the store).
    keys.clear();
    keys.resize(p + 1, u64::MAX);
    let mut nearest = u64::MAX;
    for c in (1..=p).rev() {
        if at[c] != u32::MAX {
            nearest = nearest.min(sort_key(best[c], at[c]));
        }
        keys[c] = nearest;
    }
    for (j, rank) in positives {
        let key = keys[rank as usize + 1];
        emit(
            j,
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

/// Puts entry `d` at column `j` into bucket `b` if it is the nearest there (ties to the lower
/// column; an empty bucket takes even +∞). With no branch on whether it takes: about a third
/// of the entries the 128-bucket search settles do not, at random, and the mispredicted
/// branch was 6 % of batch-semihard at 128 a class.
#[inline(always)]
fn offer(best: &mut [f32], at: &mut [u32], b: usize, d: f32, j: u32) -> bool {
    let (near, col) = (best[b], at[b]);
    let takes = (d < near) | ((d == near) & (j < col));
    best[b] = std::hint::select_unpredictable(takes, d, near);
    at[b] = std::hint::select_unpredictable(takes, j, col);
    takes
}

/// Takes a piece of an anchor's row: entries `row` at columns `c0..`, into its buckets
/// (`table` as `fill_table` makes it, twice as long as the buckets). Picks the widest vector
/// unit present; every unit fills the same buckets.
pub(crate) fn scan(row: &[f32], c0: usize, table: &[f32], found: &mut Found) {
    debug_assert!(table.len() == 2 * found.best.len() && found.at.len() == found.best.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            match found.best.len() {
                // SAFETY: the CPU has the features the function was compiled for.
                32 => return unsafe { scan_avx512::<32, 1>(row, c0, table, found) },
                // SAFETY: as above.
                128 => return unsafe { scan_avx512::<128, 4>(row, c0, table, found) },
                _ => {}
            }
        }
    }
    scan_any(row, c0, table, found)
}

/// Each entry's bucket by a binary search of the table.
fn scan_any(row: &[f32], c0: usize, table: &[f32], found: &mut Found) {
    let table = &table[..table.len() / 2];
    let mut max = f32::NEG_INFINITY;
    for (j, &d) in row.iter().enumerate() {
        let b = table.partition_point(|&p| p < d);
        let _ = offer(found.best, found.at, b, d, (c0 + j) as u32);
        max = if d > max { d } else { max };
    }
    farthest(
        c0,
        max,
        || row.iter().position(|&d| d == max).unwrap_or(0),
        found.far,
    );
}

/// Takes the piece's largest entry `max` (`first`: its first column in the piece) if it is
/// the farthest so far, ties to the lower column; −∞ is no negative.
#[inline(always)]
fn farthest(c0: usize, max: f32, first: impl FnOnce() -> usize, far: &mut (f32, u32)) {
    if max == f32::NEG_INFINITY || max < far.0 {
        return;
    }
    let j = (c0 + first()) as u32;
    if max > far.0 || j < far.1 {
        *far = (max, j);
    }
}

/// T − 1 positives at most (T = 32 or 128), the table padded with +∞ to T: each entry's
/// count is a binary search (log₂ T steps) run on 16 entries at once, the table held in
/// vector registers: two read by one permute a step (T = 32), or eight in the search's heap
/// order (T = 128: the root by a broadcast, levels 1 to 4 by a one-register permute, 5 by a
/// two-register one, 6 by two and a blend), LANES vectors at a time. The buckets' current
/// minima, also in registers, then reject 16 entries at a time that improve none (nearly all
/// of them once the buckets fill); a tie passes the filter and is settled by column. At 128
/// positives a class, N = 16,384 (the core alone): gathers from L1 took 581 ms, registers
/// 507 ms, registers with the passing entries buffered 430–460 ms, then 317 ms; the masked
/// additions kept as one instruction (`plus_one_where`), the heap order and the settling with
/// no branch on each take brought it to 290–300 ms.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
fn scan_avx512<const T: usize, const LANES: usize>(
    row: &[f32],
    c0: usize,
    table: &[f32],
    found: &mut Found,
) {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;
    assert!(table.len() == 2 * T && found.best.len() == T && found.at.len() == T);
    assert!(T == 32 || T == 128);
    // Macros, not closures: a closure is not compiled for AVX-512 and would not be inlined.
    macro_rules! load {
        ($v:expr, $at:expr) => {
            // SAFETY: every caller reads inside its slice (2T floats, or T).
            unsafe { _mm512_loadu_ps($v.as_ptr().add($at)) }
        };
    }
    // Registers: the sorted table (T = 32), or the search order (T = 128); the buckets'
    // minima, reloaded after each update.
    let (lo, hi) = (load!(table, 0), load!(table, 16));
    let order: [__m512; 8] = std::array::from_fn(|r| load!(table, T + (16 * r) % T));
    // The buckets' minima: T = 32 as they lie; T = 128 split for the search's last level, the
    // even buckets' in the first four registers and the odd ones' in the last four (bucket
    // 2k + 1 at lane k % 16 of register 4 + k / 16), both read by that level's node.
    let (evens, odds) = (
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    );
    macro_rules! load_best {
        () => {{
            let raw: [__m512; 8] = std::array::from_fn(|r| load!(found.best, (16 * r) % T));
            match T {
                32 => raw,
                _ => std::array::from_fn(|r| {
                    let (pair, split) = (r % 4, if r < 4 { evens } else { odds });
                    _mm512_permutex2var_ps(raw[2 * pair], split, raw[2 * pair + 1])
                }),
            }
        }};
    }
    let mut best = load_best!();
    let (one, two) = (_mm512_set1_epi32(1), _mm512_set1_epi32(2));
    // The heap's root (T = 128).
    let root = _mm512_set1_ps(table[T + 1]);
    let full = row.len() / 16 * 16;
    let mut top = _mm512_set1_ps(f32::NEG_INFINITY);
    // T = 128: the entries that pass the filter wait here, bucket and column, compressed 16
    // lanes at a time with no branch, and go into the buckets a few hundred at a time: a
    // branch per vector on whether any lane passed mispredicted about half the time.
    // Between two flushes the registers lag the buckets, which lets a few more entries
    // through; `offer` settles each one exactly.
    // Left uninitialised: the upper pass calls this once a piece of 256 entries, and zeroing
    // 4 KiB a call was 4 % of batch-semihard at 128 a class.
    const PENDING: usize = 512;
    let mut pend_b = [MaybeUninit::<u32>::uninit(); PENDING];
    let mut pend_j = [MaybeUninit::<u32>::uninit(); PENDING];
    let mut pending = 0usize;
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // Each passing lane straight into its bucket; the registers follow by masked moves
    // (reading the buckets back by vector right after a scalar store stalls the pipeline).
    macro_rules! take_now {
        ($lanes:expr, $c:expr, $at0:expr) => {
            let mut counts = [0u32; 16];
            // SAFETY: `counts` holds 16 u32s.
            unsafe { _mm512_storeu_si512(counts.as_mut_ptr().cast(), $c) };
            let mut lanes = $lanes;
            while lanes != 0 {
                let l = lanes.trailing_zeros() as usize;
                lanes &= lanes - 1;
                let (b, d) = (counts[l] as usize, row[$at0 + l]);
                if offer(found.best, found.at, b, d, (c0 + $at0 + l) as u32) {
                    let lane = 1u16 << (b % 16);
                    for (r, reg) in best.iter_mut().enumerate().take(T / 16) {
                        let here = if r == b / 16 { lane } else { 0 };
                        *reg = _mm512_mask_mov_ps(*reg, here, _mm512_set1_ps(d));
                    }
                }
            }
        };
    }
    macro_rules! settle {
        () => {
            for (b, j) in pend_b.iter().zip(&pend_j).take(pending) {
                // SAFETY: the first `pending` entries were written by the stores below.
                let (b, j) = unsafe { (b.assume_init() as usize - T, j.assume_init() as usize) };
                let _ = offer(found.best, found.at, b, row[j], (c0 + j) as u32);
            }
        };
    }
    // Each lane's column, vector after vector.
    let (mut columns, sixteen) = (iota, _mm512_set1_epi32(16));
    // Searches of LANES vectors side by side fill each other's latencies.
    for j0 in (0..full).step_by(16 * LANES) {
        let n = ((full - j0) / 16).min(LANES);
        // Every vector by a load, masked off past the row's last whole vector (−∞ there):
        // loading only the first n was compiled to a call to memcpy.
        let mut v = [_mm512_setzero_ps(); LANES];
        for (u, vu) in v.iter_mut().enumerate() {
            let lanes = if u < n { u16::MAX } else { 0 };
            let at = row.as_ptr().wrapping_add(j0 + 16 * u);
            // SAFETY: lanes outside the row are masked off, and a masked-off lane is not read.
            *vu = unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(f32::NEG_INFINITY), lanes, at) };
            top = _mm512_max_ps(top, *vu);
        }
        // c: the count of table entries below each lane (T = 128: its heap place), and
        // `nearest` (T = 128) the nearest entry so far of the bucket it falls in.
        let mut c = [_mm512_setzero_si512(); LANES];
        let mut nearest = [_mm512_setzero_ps(); LANES];
        if T == 32 {
            let mut step = 16;
            while step > 0 {
                for (cu, &vu) in c.iter_mut().zip(&v) {
                    let probe = _mm512_add_epi32(*cu, _mm512_set1_epi32(step - 1));
                    let entry = _mm512_permutex2var_ps(lo, probe, hi);
                    let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(entry, vu);
                    *cu = _mm512_mask_add_epi32(*cu, below, *cu, _mm512_set1_epi32(step));
                }
                step /= 2;
            }
        } else {
            // c is the node's place in the heap: each level doubles it and adds its
            // comparison. The root's children come from one broadcast comparison; after
            // level 6, c is 128 + the count.
            for (cu, &vu) in c.iter_mut().zip(&v) {
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(root, vu);
                *cu = plus_one_where(two, below, one);
            }
            macro_rules! level {
                (|$k:ident| $entry:expr) => {
                    for (cu, &vu) in c.iter_mut().zip(&v) {
                        let $k = *cu;
                        let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>($entry, vu);
                        *cu = plus_one_where(_mm512_add_epi32($k, $k), below, one);
                    }
                };
            }
            level!(|k| _mm512_permutexvar_ps(k, order[0]));
            level!(|k| _mm512_permutexvar_ps(k, order[0]));
            level!(|k| _mm512_permutexvar_ps(k, order[0]));
            level!(|k| _mm512_permutexvar_ps(k, order[1]));
            level!(|k| _mm512_permutex2var_ps(order[2], k, order[3]));
            // The last level by hand: its node (k, 64 + node) also picks the two buckets its
            // comparison decides between, and the comparison picks the one.
            for ((cu, &vu), near) in c.iter_mut().zip(&v).zip(nearest.iter_mut()) {
                let k = *cu;
                let bit5 = _mm512_test_epi32_mask(k, _mm512_set1_epi32(32));
                let read = |r: &[__m512]| {
                    let low = _mm512_permutex2var_ps(r[0], k, r[1]);
                    _mm512_mask_blend_ps(bit5, low, _mm512_permutex2var_ps(r[2], k, r[3]))
                };
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(read(&order[4..]), vu);
                *near = _mm512_mask_blend_ps(below, read(&best[..4]), read(&best[4..]));
                *cu = plus_one_where(_mm512_add_epi32(k, k), below, one);
            }
        }
        for (u, (&cu, &vu)) in c.iter().zip(&v).enumerate().take(n) {
            let current = if T == 32 {
                _mm512_permutex2var_ps(best[0], cu, best[1])
            } else {
                nearest[u]
            };
            let improves = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(vu, current);
            if T == 32 {
                // Few enough pass that a branch is cheaper than the buffer.
                if improves != 0 {
                    take_now!(improves, cu, j0 + 16 * u);
                }
                continue;
            }
            // SAFETY: `pending` <= PENDING - 16, and the buffers hold PENDING entries. The
            // bucket is stored as its heap place (128 + bucket), `settle` takes off the 128.
            unsafe {
                let bucket = _mm512_maskz_compress_epi32(improves, cu);
                let column = _mm512_maskz_compress_epi32(improves, columns);
                columns = _mm512_add_epi32(columns, sixteen);
                _mm512_storeu_si512(pend_b.as_mut_ptr().add(pending).cast(), bucket);
                _mm512_storeu_si512(pend_j.as_mut_ptr().add(pending).cast(), column);
            }
            pending += improves.count_ones() as usize;
        }
        if pending > PENDING - 16 * LANES {
            settle!();
            pending = 0;
            best = load_best!();
        }
    }
    settle!();
    let mut max = _mm512_reduce_max_ps(top);
    let sorted = &table[..T];
    for (j, &d) in row.iter().enumerate().skip(full) {
        let b = sorted.partition_point(|&p| p < d);
        let _ = offer(found.best, found.at, b, d, (c0 + j) as u32);
        max = if d > max { d } else { max };
    }
    farthest(c0, max, || first_of(row, max, full), found.far);
}

/// `x` + 1 in the lanes of `mask`, by one masked addition. Written out because the compiler
/// turns `_mm512_mask_add_epi32` of an even `x` into an OR with the mask spread to a vector:
/// three instructions where one does, on every level of the search.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn plus_one_where(
    x: std::arch::x86_64::__m512i,
    mask: std::arch::x86_64::__mmask16,
    one: std::arch::x86_64::__m512i,
) -> std::arch::x86_64::__m512i {
    let mut r = x;
    // SAFETY: a register-only addition under a mask, on a CPU with AVX-512F.
    unsafe {
        std::arch::asm!(
            "vpaddd {r}{{{k}}}, {r}, {one}",
            r = inout(zmm_reg) r,
            k = in(kreg) mask,
            one = in(zmm_reg) one,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// The first column holding `max` (which the row holds), by a vector search over the first
/// `full` columns, then the rest.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn first_of(row: &[f32], max: f32, full: usize) -> usize {
    use std::arch::x86_64::*;
    let target = _mm512_set1_ps(max);
    for j0 in (0..full).step_by(16) {
        // SAFETY: j0 + 16 <= full <= row.len().
        let v = unsafe { _mm512_loadu_ps(row.as_ptr().add(j0)) };
        let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, target);
        if hit != 0 {
            return j0 + hit.trailing_zeros() as usize;
        }
    }
    full + row[full..].iter().position(|&d| d == max).unwrap_or(0)
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

    /// A row's buckets filled by `scan` (or `scan_any`), whole or in pieces.
    struct Filled {
        best: Vec<f32>,
        at: Vec<u32>,
        far: (f32, u32),
    }

    impl Filled {
        fn new(t: usize) -> Self {
            Filled {
                best: vec![EMPTY.0; t],
                at: vec![EMPTY.1; t],
                far: NO_FARTHEST,
            }
        }
        fn found(&mut self) -> Found<'_> {
            Found {
                best: &mut self.best,
                at: &mut self.at,
                far: &mut self.far,
            }
        }
        /// Bucket by bucket, with −0 and +0 told apart.
        fn bits(&self) -> (Vec<(u32, u32)>, (u32, u32)) {
            let b = self
                .best
                .iter()
                .zip(&self.at)
                .map(|(d, &j)| (d.to_bits(), j));
            // The farthest's value only picks its column: −0 and +0 are one value there.
            (b.collect(), ((self.far.0 + 0.0).to_bits(), self.far.1))
        }
    }

    #[test]
    fn every_vector_unit_and_every_split_fills_the_same_buckets() {
        let mut seed = 11u64;
        for &n in &[5usize, 16, 47, 1000] {
            for &p in &[1usize, 7, 31, 32, 64, 127, 128, 300] {
                // Some rows hold ±∞ (−∞: the anchor's class; +∞: an overflowed distance), and
                // coarse values, for ties between pieces.
                for odd in [
                    None,
                    Some(f32::NEG_INFINITY),
                    Some(f32::INFINITY),
                    Some(0.5),
                ] {
                    let coarse = odd == Some(0.5);
                    let mut row: Vec<f32> = (0..n)
                        .map(|_| match coarse {
                            true => (lcg(&mut seed) * 4.0).round() * 0.25,
                            false => lcg(&mut seed),
                        })
                        .collect();
                    if let Some(v) = odd {
                        row[n / 2] = v;
                        row[n - 1] = v;
                    }
                    let t = buckets_for(p);
                    let mut table = vec![0.0; 2 * t];
                    let distances: Vec<f32> = (0..p).map(|_| lcg(&mut seed)).collect();
                    let mut ranks = vec![0; p];
                    fill_table(&distances, t, &mut table, &mut ranks, &mut vec![]);
                    let mut whole = Filled::new(t);
                    scan_any(&row, 0, &table, &mut whole.found());
                    // Pieces of odd widths, odd ones back to front, then even ones.
                    let cuts: Vec<usize> = (0..n).step_by(13 + p % 7).chain([n]).collect();
                    let pieces: Vec<&[usize]> = cuts.windows(2).collect();
                    let back = pieces.iter().skip(1).step_by(2).rev();
                    let mut first = Filled::new(t);
                    for piece in back.chain(pieces.iter().step_by(2)) {
                        let (c0, c1) = (piece[0], piece[1]);
                        scan(&row[c0..c1], c0, &table, &mut first.found());
                    }
                    let mut one = Filled::new(t);
                    scan(&row, 0, &table, &mut one.found());
                    assert_eq!(whole.bits(), one.bits(), "n {n}, p {p}, {odd:?}: one piece");
                    assert_eq!(whole.bits(), first.bits(), "n {n}, p {p}, {odd:?}: pieces");
                }
            }
        }
    }

    #[test]
    fn ranks_by_counting_are_the_sorts_places() {
        let mut seed = 21u64;
        for n in 0..=32usize {
            for coarse in [false, true] {
                let d: Vec<f32> = (0..n)
                    .map(|_| match coarse {
                        // Ties, and −0 beside +0.
                        true => match (lcg(&mut seed) * 3.0).round() * 0.5 {
                            0.0 if lcg(&mut seed) > 0.0 => -0.0,
                            v => v,
                        },
                        false => lcg(&mut seed),
                    })
                    .collect();
                let mut counted = vec![0u32; n];
                if !rank_by_counting(&d, &mut counted) {
                    return; // no vector unit to count with: the sort is all there is
                }
                let mut keys: Vec<u64> = (0..n).map(|k| sort_key(d[k], k as u32)).collect();
                keys.sort_unstable();
                let mut sorted = vec![0u32; n];
                for (i, &key) in keys.iter().enumerate() {
                    sorted[key_index(key)] = i as u32;
                }
                assert_eq!(counted, sorted, "{d:?}");
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
