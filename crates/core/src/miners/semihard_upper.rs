//! Batch-semihard mining of a batch against itself over half its distance matrix. The matrix
//! is symmetric bit for bit (`Distances::is_self`), so each tile of the upper triangle serves
//! the anchors of its rows and, transposed, the anchors of its columns: half the products of
//! the whole-row pass, and no row of distances is ever held whole.
//!
//! Each anchor's positives are computed first, from its class's rows, for its table of
//! thresholds. The workers then pull tiles as they free and feed them to the anchors'
//! buckets, a lock a block of anchors (`semihard::scan` takes a row in pieces, in any order
//! of columns), and each anchor's triplets come out as the whole-row pass emits them.

use super::semihard::{self, Found, EMPTY, NO_FARTHEST};
use super::{Roles, Triplets};
use crate::distances::transpose::transpose;
use crate::distances::Distances;
use crate::runtime::par;
use crate::Error;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A tile's side: a tile and its transpose (512 KiB) stay in L2 while they are searched.
const BLOCK: usize = 256;

/// Below this many rows the whole-row pass is as fast (N = 2,048, 32 a class: 9.7 ms this way,
/// 9.2 ms by whole rows; N = 4,096: 26.8 against 31.5 ms).
const FEWEST_ROWS: usize = 4096;

/// The largest class the vector search's tables hold (127 positives).
const LARGEST_CLASS: usize = 128;

/// The most the workers' buckets may hold; past it the whole-row pass runs.
const MOST_BYTES: usize = 1 << 30;

/// Whether the batch is mined against itself, every class fits the vector search, and the
/// buckets fit the call's memory.
pub(super) fn suits(dist: &Distances, roles: Roles, members: &HashMap<i32, Vec<usize>>) -> bool {
    let n = dist.rows();
    let largest = members.values().map(Vec::len).max().unwrap_or(0);
    let budget = dist.call().max_memory.unwrap_or(usize::MAX).min(MOST_BYTES);
    roles.self_mode
        && dist.is_self()
        && n >= FEWEST_ROWS
        && n < u32::MAX as usize
        && largest <= LARGEST_CLASS
        && footprint(n, semihard::buckets_for(largest.saturating_sub(1))) <= budget
}

/// Bytes held: an anchor's buckets (8 bytes each, and its farthest), its table (twice the
/// buckets in floats) and its positives (8 bytes each); every worker's two tiles.
fn footprint(n: usize, buckets: usize) -> usize {
    n * (24 * buckets + 8) + crate::threads() * 2 * BLOCK * BLOCK * 4
}

pub(super) fn batch_semihard(
    dist: &Distances,
    roles: Roles,
    members: &HashMap<i32, Vec<usize>>,
) -> Result<Triplets, Error> {
    let n = dist.rows();
    let classes: Vec<&[usize]> = roles
        .anchors
        .iter()
        .map(|l| members.get(l).map_or(&[][..], Vec::as_slice))
        .collect();
    let largest = classes.iter().map(|c| c.len()).max().unwrap_or(0);
    let t = semihard::buckets_for(largest.saturating_sub(1));
    let mut positives = positives(dist, members)?;
    let mut tables = vec![0.0f32; n * 2 * t];
    // Each positive's distance becomes its rank, the bucket its negative is read from; blocks
    // of anchors in parallel.
    let parts: Vec<_> = positives
        .chunks_mut(BLOCK)
        .zip(tables.chunks_mut(BLOCK * 2 * t))
        .collect();
    par::map(parts, false, |(lists, tables)| {
        let (mut keys, mut distances, mut ranks) = (Vec::new(), Vec::new(), Vec::new());
        for (list, table) in lists.iter_mut().zip(tables.chunks_mut(2 * t)) {
            distances.clear();
            distances.extend(list.iter().map(|p| f32::from_bits(p.1)));
            ranks.resize(list.len(), 0);
            semihard::fill_table(&distances, t, table, &mut ranks, &mut keys);
            for (p, &r) in list.iter_mut().zip(&ranks) {
                p.1 = r;
            }
        }
    });
    let blocks: Vec<(usize, usize)> = (0..n)
        .step_by(BLOCK)
        .map(|r0| (r0, (r0 + BLOCK).min(n)))
        .collect();
    let nb = blocks.len();
    // Tiles by their distance from the diagonal, then even rows before odd: tiles taken one
    // after the other touch different blocks (but at distance 1 from the diagonal, where
    // every other one does), so the workers seldom wait on a block's lock.
    let mut tiles: Vec<(usize, usize)> =
        (0..nb).flat_map(|i| (i..nb).map(move |j| (i, j))).collect();
    tiles.sort_by_key(|&(i, j)| (j - i, i % 2, i));
    // One set of buckets, a lock a block of anchors.
    let states: Vec<Mutex<State>> = blocks
        .iter()
        .map(|&(a0, a1)| Mutex::new(State::new(a1 - a0, t)))
        .collect();
    let next = AtomicUsize::new(0);
    // Progress in rows, as the whole-row pass reports it: a tile counts its entries (twice
    // off the diagonal), and every n entries searched are a row.
    let searched = AtomicUsize::new(0);
    let workers = crate::threads().clamp(1, tiles.len());
    let search = Search {
        dist,
        classes: &classes,
        tables: &tables,
        t,
    };
    par::map((0..workers).collect(), workers == 1, |_| {
        let mut tile = vec![0.0f32; BLOCK * BLOCK];
        let mut flipped = vec![0.0f32; BLOCK * BLOCK];
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= tiles.len() || dist.stop().requested() {
                return;
            }
            let (i, j) = tiles[k];
            search.tile(
                &states,
                (i, blocks[i]),
                (j, blocks[j]),
                &mut tile,
                &mut flipped,
            );
            let (rows, cols) = (blocks[i], blocks[j]);
            let entries = (rows.1 - rows.0) * (cols.1 - cols.0) * if i == j { 1 } else { 2 };
            let before = searched.fetch_add(entries, Ordering::Relaxed);
            let done = (before + entries) / n - before / n;
            if done > 0 {
                dist.call().advance(done, n);
            }
        }
    });
    dist.stop().check()?;
    let states: Vec<State> = states.into_iter().map(unlocked).collect();
    // Each anchor with a negative emits one triplet a positive: the blocks write their known
    // shares of one result side by side (gathering per-block results afterwards was a serial
    // copy of the whole result, 3 % of the call at 128 a class).
    let emitted = |a: usize| match classes[a].len() < n {
        true => positives[a].len(),
        false => 0,
    };
    let total = (0..n).map(emitted).sum();
    let mut out = Triplets {
        anchor: vec![0; total],
        positive: vec![0; total],
        negative: vec![0; total],
    };
    let mut shares = Vec::with_capacity(nb);
    let (mut anchor, mut positive, mut negative) = (
        &mut out.anchor[..],
        &mut out.positive[..],
        &mut out.negative[..],
    );
    for &(a0, a1) in &blocks {
        let len = (a0..a1).map(emitted).sum();
        let (a, rest_a) = anchor.split_at_mut(len);
        let (p, rest_p) = positive.split_at_mut(len);
        let (ng, rest_n) = negative.split_at_mut(len);
        shares.push((a, p, ng));
        (anchor, positive, negative) = (rest_a, rest_p, rest_n);
    }
    let work: Vec<_> = blocks.into_iter().zip(states).zip(shares).collect();
    par::map(work, false, |(((a0, a1), s), (anchors, pos, neg))| {
        let (mut k, mut keys) = (0, Vec::new());
        for a in a0..a1 {
            let at = (a - a0) * t..(a - a0 + 1) * t;
            let found = (&s.best[at.clone()], &s.at[at], s.far[a - a0]);
            let emit = |p: usize, ng: usize| {
                (anchors[k], pos[k], neg[k]) = (a as i32, p as i32, ng as i32);
                k += 1;
            };
            let list = &positives[a];
            let ranked = list.iter().map(|&(p, r)| (p as usize, r));
            semihard::finish(ranked, list.len(), found, classes[a], n, &mut keys, emit);
        }
        debug_assert_eq!(k, anchors.len(), "a block emits its share exactly");
    });
    Ok(out)
}

/// A lock's value; a worker that panicked holding it has already failed the call.
fn unlocked<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Each anchor's positives, (column, distance's bits) in ascending columns: its class's rows
/// against each other in one gathered tile a class (the bits the whole matrix's tiles hold).
fn positives(
    dist: &Distances,
    members: &HashMap<i32, Vec<usize>>,
) -> Result<Vec<Vec<(u32, u32)>>, Error> {
    let classes: Vec<&Vec<usize>> = members.values().filter(|c| c.len() > 1).collect();
    let per_class = par::map(classes, false, |class| {
        let m = class.len();
        let idx: Vec<u32> = class.iter().map(|&j| j as u32).collect();
        let mut d = vec![0.0f32; m * m];
        dist.distances_gathered(&idx, &idx, &mut d);
        let lists = (0..m).map(|ia| {
            let others = (0..m).filter(move |&j| j != ia);
            others
                .map(|j| (class[j] as u32, d[ia * m + j].to_bits()))
                .collect::<Vec<_>>()
        });
        class.iter().copied().zip(lists).collect::<Vec<_>>()
    });
    dist.stop().check()?;
    let mut out = vec![Vec::new(); dist.rows()];
    for (a, list) in per_class.into_iter().flatten() {
        out[a] = list;
    }
    Ok(out)
}

/// What every tile's search reads.
struct Search<'s, 'd> {
    dist: &'s Distances<'d>,
    classes: &'s [&'s [usize]],
    tables: &'s [f32],
    t: usize,
}

impl Search<'_, '_> {
    /// The tile of blocks i × j into the buckets of its rows' anchors and, off the diagonal,
    /// of its columns' anchors, each block's under its lock (whichever is free first).
    /// Same-class entries go to −∞ first, for both: the relation is symmetric.
    fn tile(
        &self,
        states: &[Mutex<State>],
        (i, (r0, r1)): (usize, (usize, usize)),
        (j, (c0, c1)): (usize, (usize, usize)),
        tile: &mut [f32],
        flipped: &mut [f32],
    ) {
        let (h, w) = (r1 - r0, c1 - c0);
        let tile = &mut tile[..h * w];
        self.dist.tile(r0, r1, c0, c1, tile);
        for (a, row) in (r0..r1).zip(tile.chunks_mut(w)) {
            let class = self.classes[a];
            let from = class.partition_point(|&j| j < c0);
            for &j in class[from..].iter().take_while(|&&j| j < c1) {
                row[j - c0] = f32::NEG_INFINITY;
            }
        }
        let rows = |s: &mut State| {
            for (a, row) in (r0..r1).zip(tile.chunks(w)) {
                self.scan(s, a - r0, a, row, c0);
            }
        };
        if i == j {
            return rows(&mut lock(&states[i]));
        }
        let flipped = &mut flipped[..h * w];
        transpose(tile, h, w, flipped);
        let cols = |s: &mut State| {
            for (b, col) in (c0..c1).zip(flipped.chunks(h)) {
                self.scan(s, b - c0, b, col, r0);
            }
        };
        match states[i].try_lock() {
            Ok(mut s) => {
                rows(&mut s);
                drop(s);
                cols(&mut lock(&states[j]));
            }
            Err(_) => {
                cols(&mut lock(&states[j]));
                rows(&mut lock(&states[i]));
            }
        }
    }

    /// A piece of anchor `a`'s row (its `local`-th in its block) from column `c0`.
    fn scan(&self, s: &mut State, local: usize, a: usize, piece: &[f32], c0: usize) {
        let at = local * self.t..(local + 1) * self.t;
        let mut found = Found {
            best: &mut s.best[at.clone()],
            at: &mut s.at[at],
            far: &mut s.far[local],
        };
        let table = &self.tables[2 * a * self.t..2 * (a + 1) * self.t];
        semihard::scan(piece, c0, table, &mut found);
    }
}

/// Waits for a block's lock (see `unlocked` on poisoning).
fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The buckets of a block of anchors: `t` an anchor.
struct State {
    best: Vec<f32>,
    at: Vec<u32>,
    far: Vec<(f32, u32)>,
}

impl State {
    fn new(anchors: usize, t: usize) -> Self {
        State {
            best: vec![EMPTY.0; anchors * t],
            at: vec![EMPTY.1; anchors * t],
            far: vec![NO_FARTHEST; anchors],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{batch_semihard_rows, class_members};
    use super::*;
    use crate::testing::lcg;
    use crate::{MatRef, Metric, MetricOptions};

    /// The triplets of both passes over the same rows.
    fn both(x: &[f32], n: usize, d: usize, labels: &[i32], metric: Metric) -> [Triplets; 2] {
        let m = MatRef::new(x, n, d).unwrap();
        let o = MetricOptions {
            metric,
            normalize: false,
        };
        let dist = Distances::new(m, None, o);
        let roles = Roles {
            anchors: labels,
            candidates: labels,
            self_mode: true,
        };
        let members = class_members(labels);
        [
            batch_semihard(&dist, roles, &members).unwrap(),
            batch_semihard_rows(&dist, roles, &members).unwrap(),
        ]
    }

    #[test]
    fn half_the_matrix_mines_what_the_whole_rows_do() {
        let mut seed = 5u64;
        let mut mined = 0;
        let metrics = [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Cosine,
            Metric::Dot,
        ];
        // One tile, a partial last block, several blocks; classes from 1 to 128 rows (both
        // tables) and of random sizes; rows at random, on a coarse grid (ties between tiles),
        // repeated, zero, and far from the origin.
        for (case, &(n, d)) in [(1usize, 3usize), (2, 5), (17, 33), (257, 7), (600, 19)]
            .iter()
            .enumerate()
        {
            for per in [1usize, 2, 9, 31, 32, 100, 128, 0] {
                for style in 0..4 {
                    let mut x: Vec<f32> = (0..n * d)
                        .map(|_| match style {
                            1 => (lcg(&mut seed) * 2.0).round() * 0.5,
                            3 => 100.0 + lcg(&mut seed),
                            _ => lcg(&mut seed),
                        })
                        .collect();
                    if style == 2 {
                        // Every third row a copy of another, every seventh zero.
                        for i in (0..n).step_by(3) {
                            let src = (i * 5 + 1) % n;
                            let row: Vec<f32> = x[src * d..(src + 1) * d].to_vec();
                            x[i * d..(i + 1) * d].copy_from_slice(&row);
                        }
                        for i in (0..n).step_by(7) {
                            x[i * d..(i + 1) * d].fill(0.0);
                        }
                    }
                    let labels: Vec<i32> = match per {
                        0 => (0..n)
                            .map(|_| ((lcg(&mut seed) + 1.0) * 6.0) as i32)
                            .collect(),
                        p => (0..n).map(|i| (i % n.div_ceil(p)) as i32).collect(),
                    };
                    let metric = metrics[(case + per + style) % metrics.len()];
                    let [upper, rows] = both(&x, n, d, &labels, metric);
                    mined += rows.len();
                    assert_eq!(
                        upper, rows,
                        "n {n}, d {d}, {per} a class, style {style}, {metric:?}"
                    );
                }
            }
        }
        assert!(mined > 100_000, "{mined} triplets in all");
    }

    #[test]
    fn any_thread_count_mines_the_same_triplets() {
        let (n, d) = (700, 11);
        let mut seed = 9u64;
        let x: Vec<f32> = (0..n * d).map(|_| (lcg(&mut seed) * 3.0).round()).collect();
        let labels: Vec<i32> = (0..n as i32).map(|i| i % 7).collect();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| both(&x, n, d, &labels, Metric::Euclidean))
        };
        let [one, _] = on(1);
        for threads in [2, 3, 5] {
            let [upper, rows] = on(threads);
            assert_eq!(upper, one, "{threads} threads");
            assert_eq!(rows, one, "{threads} threads, whole rows");
        }
    }

    /// The whole-row pass reserves room for the triplets it makes, not for every positive
    /// pair: anchors without a negative make none (one class of 5,000 rows would otherwise
    /// reserve 300 MB for an empty result).
    #[test]
    fn the_row_pass_reserves_only_what_it_mines() {
        // One block of rows (at most 64), whose triplets come back as they were reserved.
        let (n, d) = (60, 3);
        let mut seed = 2u64;
        let x: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
        let m = MatRef::new(&x, n, d).unwrap();
        let dist = Distances::new(m, None, MetricOptions::default());
        for classes in [1, 3] {
            let labels: Vec<i32> = (0..n as i32).map(|i| i % classes).collect();
            let roles = Roles {
                anchors: &labels,
                candidates: &labels,
                self_mode: true,
            };
            let mined = batch_semihard_rows(&dist, roles, &class_members(&labels)).unwrap();
            if classes == 1 {
                assert_eq!((mined.len(), mined.anchor.capacity()), (0, 0));
            } else {
                assert_eq!(mined.len(), n * (n / 3 - 1));
            }
        }
    }

    #[test]
    fn a_hand_worked_line() {
        // Points 0, 1, 3, 6 and 10 on a line (rows 0 to 4); classes {0, 2, 4} and {1, 3}.
        // Row 0: positive 2 at 3 has negative 3 at 6 farther; positive 4 at 10 has none
        // farther, so the farthest negative, 3. Row 1: positive 3 at 5, negative 4 at 9.
        // Row 2: negatives 1 at 2 and 3 at 3, neither farther than positive 0 at 3 nor 4 at 7:
        // the farthest, 3. Row 3: positive 1 at 5, negative 0 at 6. Row 4: positive 0 at 10
        // has none farther (negatives 1 at 9, 3 at 4): 1; positive 2 at 7 has 1 at 9.
        let x = [0.0, 1.0, 3.0, 6.0, 10.0];
        let labels = [0, 1, 0, 1, 0];
        let [upper, rows] = both(&x, 5, 1, &labels, Metric::Euclidean);
        assert_eq!(upper, rows);
        let got: Vec<(i32, i32, i32)> = (0..upper.len())
            .map(|t| (upper.anchor[t], upper.positive[t], upper.negative[t]))
            .collect();
        let expected = [
            (0, 2, 3),
            (0, 4, 3),
            (1, 3, 4),
            (2, 0, 3),
            (2, 4, 3),
            (3, 1, 0),
            (4, 0, 1),
            (4, 2, 1),
        ];
        assert_eq!(got, expected);
    }

    /// Rows of progress add up to the batch, in whatever tiles they came; a raised stop flag
    /// gives `Cancelled`.
    #[test]
    fn stops_and_reports_progress_in_rows() {
        let (n, d) = (700, 9);
        let mut seed = 8u64;
        let x: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
        let labels: Vec<i32> = (0..n as i32).map(|i| i % 11).collect();
        let roles = Roles {
            anchors: &labels,
            candidates: &labels,
            self_mode: true,
        };
        let members = class_members(&labels);
        let m = MatRef::new(&x, n, d).unwrap();
        let done = AtomicUsize::new(0);
        let progress = |k: usize, total: usize| {
            assert_eq!(total, n);
            done.fetch_add(k, Ordering::Relaxed);
        };
        let call = crate::Call {
            progress: Some(&progress),
            ..crate::Call::PLAIN
        };
        let dist = Distances::new(m, None, MetricOptions::default()).with_call(call);
        batch_semihard(&dist, roles, &members).unwrap();
        assert_eq!(done.load(Ordering::Relaxed), n);
        let flag = std::sync::atomic::AtomicBool::new(true);
        let call = crate::Call::stoppable(crate::Stop::on(&flag));
        let dist = Distances::new(m, None, MetricOptions::default()).with_call(call);
        let err = batch_semihard(&dist, roles, &members).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
    }
}
