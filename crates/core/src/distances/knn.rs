//! Exact k-nearest neighbours by tiled distances and per-row top-k.
//!
//! Row blocks run in parallel; each walks the corpus one tile at a time and folds the tile
//! into its rows' top-k lists, so memory is O(rows·k + tile) whatever the corpus size. The
//! corpus is prepared once (`Rows`) and serves every batch of queries.

use crate::distances::select::{key_index, sort_key, Ranked, TopK};
use crate::distances::smallest;
use crate::distances::{knn_bounded, Distances, Rows};
use crate::{rules, Call, Corpus, Device, Error, KnnOptions, MatRef, MetricOptions};
use std::borrow::Cow;

/// Row-major `queries.rows × k` results, each row ascending by (distance, index).
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    pub indices: Vec<i32>,
    pub distances: Vec<f32>,
}

impl Knn {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Knn {
            indices: Vec::with_capacity(n),
            distances: Vec::with_capacity(n),
        }
    }

    /// Appends one query's list, padded to k.
    pub(crate) fn push_list(&mut self, items: &[Ranked], k: usize) {
        for r in items.iter().take(k) {
            self.indices.push(r.i as i32);
            self.distances.push(r.d);
        }
        self.pad(items.len().min(k), k);
    }

    /// Pads a list of `len` to k. The rules keep k within the candidates, so lists are full;
    /// the padding only keeps the shape exact should a device ever return fewer.
    fn pad(&mut self, len: usize, k: usize) {
        for _ in len..k {
            self.indices.push(-1);
            self.distances.push(f32::INFINITY);
        }
    }
}

/// The `k` nearest rows of `corpus` for every query row on `dev`, under the options the
/// corpus was prepared with. `exclude_self`: query i (global index `query_offset + i`) never
/// returns that corpus index.
pub fn knn(
    dev: &dyn Device,
    queries: MatRef,
    corpus: &dyn Corpus,
    o: &KnnOptions,
    call: &Call,
) -> Result<Knn, Error> {
    check(dev, queries, corpus.rows(), corpus.cols(), o)?;
    dev.top_k(queries, corpus, o, call)
}

/// `knn` against a corpus used once (prepared for this search only).
pub fn knn_once(
    dev: &dyn Device,
    queries: MatRef,
    corpus: MatRef,
    metric: &MetricOptions,
    o: &KnnOptions,
    call: &Call,
) -> Result<Knn, Error> {
    check(dev, queries, corpus.rows(), corpus.cols(), o)?;
    dev.top_k_once(queries, corpus, metric, o, call)
}

/// The argument rules of `knn`: k within the corpus and within what the device takes, and
/// the corpus as wide as the queries.
fn check(
    dev: &dyn Device,
    queries: MatRef,
    rows: usize,
    cols: usize,
    o: &KnnOptions,
) -> Result<(), Error> {
    rules::knn_k(o.k, rows, o.exclude_self)?;
    if rows > 0 && queries.rows() > 0 && queries.cols() != cols {
        return Err(Error::invalid(
            "corpus",
            format!(
                "expected {} columns (the columns of queries), received {cols}",
                queries.cols()
            ),
        ));
    }
    match dev.max_k() {
        Some(max) if o.k > max => Err(Error::invalid(
            "opts.k",
            format!(
                "expected at most {max} on device '{}', received {}",
                dev.name(),
                o.k
            ),
        )),
        _ => Ok(()),
    }
}

/// The cpu device's `top_k`. Row blocks run in parallel. A small k folds the corpus's tiles
/// into per-row heaps, where most candidates cost one comparison; a k near the corpus size
/// (a retrieval window of large classes) selects from whole rows instead, O(corpus + k log k)
/// a query, where a heap would take O(corpus · log k).
pub fn top_k(queries: MatRef, corpus: &Rows, o: &KnnOptions, call: &Call) -> Result<Knn, Error> {
    let k = o.k;
    // The result and the per-row heaps: 8 bytes a neighbour each.
    let bytes = queries.rows().saturating_mul(k).saturating_mul(16);
    let _held = crate::runtime::budget::reserve(bytes, "knn")?;
    let q = Rows::prepare(queries, corpus.options());
    let dist = Distances::between(Cow::Owned(q), Some(Cow::Borrowed(corpus)))?.with_call(*call);
    // The corpus index a query never returns (none without exclude_self).
    let skip = |r: usize| {
        if o.exclude_self {
            o.query_offset + r
        } else {
            usize::MAX
        }
    };
    let parts = if k.saturating_mul(SELECT_FROM) >= corpus.rows() {
        by_selection(&dist, k, skip)?
    } else if knn_bounded::suits(&dist, k) {
        knn_bounded::by_bounds(&dist, k, skip, None, knn_bounded::Products::Unit)?
    } else {
        by_heaps(&dist, k, skip, heap_parts(dist.rows()))?
    };
    let mut out = Knn {
        indices: Vec::with_capacity(dist.rows() * k),
        distances: Vec::with_capacity(dist.rows() * k),
    };
    for part in parts {
        out.indices.extend(part.indices);
        out.distances.extend(part.distances);
    }
    Ok(out)
}

/// Candidates a run of `offer_row` counts at once.
const RUN: usize = 16;

crate::runtime::simd::widest! {
    /// Offers a tile row of distances (columns c0..) to `top`, but column `skip`. Most
    /// candidates fail the threshold once the heap is full, so a run of 16 is first counted
    /// without a branch (it vectorises) and scanned one by one only when some pass; push
    /// settles ties by index.
    fn offer_row(top: &mut TopK, row: &[f32], c0: usize, skip: usize) -> () {
        for (r, run) in row.chunks(RUN).enumerate() {
            let threshold = top.threshold();
            if run.iter().map(|&d| u32::from(d <= threshold)).sum::<u32>() == 0 {
                continue;
            }
            for (jj, &d) in run.iter().enumerate() {
                let j = c0 + r * RUN + jj;
                if d <= top.threshold() && j != skip {
                    top.push(Ranked { d, i: j as u32 });
                }
            }
        }
    }
}

/// Below this many query rows a thread, knn splits the corpus among the threads.
const SPLIT_BELOW_ROWS: usize = 128;

/// The column parts `by_heaps` cuts each row block into for `rows` queries: one a thread when
/// the queries are too few to keep the threads busy, else 1.
fn heap_parts(rows: usize) -> usize {
    let threads = crate::threads();
    if rows < SPLIT_BELOW_ROWS * threads {
        threads
    } else {
        1
    }
}

/// One block's heaps from its column parts' (each a heap a row): every kept candidate of
/// every part, pushed again.
fn merge_parts(parts: Vec<Vec<TopK>>) -> Vec<TopK> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Vec::new();
    };
    let mut rows: Vec<TopK> = first;
    for part in parts {
        for (top, other) in rows.iter_mut().zip(part) {
            for c in other.into_sorted() {
                top.push(c);
            }
        }
    }
    rows
}

/// From k · SELECT_FROM ≥ corpus rows on, whole rows and a selection beat per-row heaps
/// (retrievalMetrics at N = 1,024 with windows of 31: 4.5 ms by heaps, 3.5 ms by selection; at
/// N = 8,192 with windows of 31, heaps take 121 ms where selection took 247 ms).
const SELECT_FROM: usize = 64;

/// Each row's k nearest, by folding tiles into bounded heaps. With fewer row blocks than
/// threads (a few queries), each block's columns are split among the threads and the parts'
/// heaps merged: (distance, index) keys make the merge exact, so the lists are the same.
pub(crate) fn by_heaps(
    dist: &Distances,
    k: usize,
    skip: impl Fn(usize) -> usize + Sync,
    parts: usize,
) -> Result<Vec<Knn>, Error> {
    let init = |r0: usize, r1: usize| -> Vec<TopK> { (r0..r1).map(|_| TopK::new(k)).collect() };
    let fold = |tops: &mut Vec<TopK>, r0: usize, c0: usize, tile: &[f32]| {
        let w = tile.len() / tops.len();
        for (ri, (top, row)) in tops.iter_mut().zip(tile.chunks(w)).enumerate() {
            offer_row(top, row, c0, skip(r0 + ri));
        }
    };
    let per_block: Vec<Vec<TopK>> = if parts > 1 {
        dist.fold_tiles_split(parts, init, fold)?
            .into_iter()
            .map(merge_parts)
            .collect()
    } else {
        dist.fold_tiles(init, fold)?
    };
    Ok(per_block
        .into_iter()
        .map(|tops| {
            let mut part = Knn::with_capacity(tops.len() * k);
            for top in tops {
                part.push_list(&top.into_sorted(), k);
            }
            part
        })
        .collect())
}

/// A row's k nearest keys, ascending by (distance, index), into `keys[..head]` (head = k or
/// fewer): for k up to 16, sorting networks in registers (`smallest`); else a selection over
/// the whole row, then a sort of the head.
fn select_row(row: &[f32], skip: usize, k: usize, keys: &mut Vec<u64>) -> usize {
    keys.clear();
    if k <= smallest::KEPT {
        let mut top = [0u64; smallest::KEPT];
        if let Some(count) = smallest::smallest(row, skip, &mut top) {
            let head = count.min(k);
            keys.extend_from_slice(&top[..head]);
            return head;
        }
    }
    keys.extend(
        row.iter()
            .enumerate()
            .filter(|&(j, _)| j != skip)
            .map(|(j, &d)| sort_key(d, j as u32)),
    );
    let head = k.min(keys.len());
    if head < keys.len() {
        keys.select_nth_unstable(head);
    }
    keys[..head].sort_unstable();
    head
}

/// `top_k` handing each query's list of indices to `visit(query, list)` as its row block is
/// done, instead of gathering them: retrieval reads each list once, and a window of a large
/// class makes the gathered lists gigabytes. Small k goes by heaps and is gathered first.
pub fn top_k_visit(
    queries: MatRef,
    corpus: &Rows,
    o: &KnnOptions,
    call: &Call,
    visit: &(dyn Fn(usize, &[i32]) + Sync),
) -> Result<(), Error> {
    let k = o.k;
    if k.saturating_mul(SELECT_FROM) < corpus.rows() {
        let found = top_k(queries, corpus, o, call)?;
        for (q, list) in found.indices.chunks(k.max(1)).enumerate() {
            visit(q, list);
        }
        return Ok(());
    }
    let q = Rows::prepare(queries, corpus.options());
    let dist = Distances::between(Cow::Owned(q), Some(Cow::Borrowed(corpus)))?.with_call(*call);
    let n = dist.cols();
    dist.map_row_blocks(|r0, rows| {
        let (mut keys, mut list) = (Vec::with_capacity(n), Vec::with_capacity(k));
        for (ri, row) in rows.chunks(n.max(1)).enumerate() {
            let skip = if o.exclude_self {
                o.query_offset + r0 + ri
            } else {
                usize::MAX
            };
            let head = select_row(row, skip, k, &mut keys);
            list.clear();
            list.extend(keys[..head].iter().map(|&key| key_index(key) as i32));
            list.resize(k, -1);
            visit(r0 + ri, &list);
        }
    })?;
    Ok(())
}

/// Each row's k nearest, by a selection over its whole row of (distance, index) keys.
fn by_selection(
    dist: &Distances,
    k: usize,
    skip: impl Fn(usize) -> usize + Sync,
) -> Result<Vec<Knn>, Error> {
    let n = dist.cols();
    dist.map_row_blocks(|r0, rows| {
        let mut keys = Vec::with_capacity(n);
        let mut part = Knn::with_capacity(rows.len() / n.max(1) * k);
        for (ri, row) in rows.chunks(n.max(1)).enumerate() {
            let head = select_row(row, skip(r0 + ri), k, &mut keys);
            for &key in &keys[..head] {
                // The key ties −0 with +0: the distance is read back from the row.
                part.indices.push(key_index(key) as i32);
                part.distances.push(row[key_index(key)]);
            }
            part.pad(head, k);
        }
        part
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every part's indices, and its distances' bits (−0 apart from +0), in order.
    pub(crate) fn list_bits(parts: Vec<Knn>) -> (Vec<i32>, Vec<u32>) {
        let i = parts.iter().flat_map(|p| p.indices.clone()).collect();
        let b = parts
            .iter()
            .flat_map(|p| p.distances.iter().map(|x| x.to_bits()))
            .collect();
        (i, b)
    }
    use crate::{Metric, MetricOptions};

    fn run(q: MatRef, c: MatRef, k: usize, metric: Metric, ex: bool, off: usize) -> Knn {
        let metric = MetricOptions {
            metric,
            normalize: false,
        };
        let o = KnnOptions {
            k,
            exclude_self: ex,
            query_offset: off,
        };
        knn_once(&crate::Cpu, q, c, &metric, &o, &Call::PLAIN).unwrap()
    }

    /// The corpus split among threads (a few queries) gives the lists of one pass over it
    /// and of the whole-row selection, ties and −0 included, for any number of parts.
    #[test]
    fn split_corpus_lists_are_the_whole_pass_lists() {
        // Random rows over many tiles, with ties: each query's row is also in the corpus
        // twice, late (an exact 0 and a tie broken by index, both in the last parts).
        let (nq, nc, d, k) = (70, 5000, 3, 9);
        let mut seed = 5u64;
        let q: Vec<f32> = (0..nq * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        let mut c: Vec<f32> = (0..nc * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        for i in 0..nq {
            for at in [nc - 1 - 2 * i, nc - 2 - 2 * i] {
                c[at * d..(at + 1) * d].copy_from_slice(&q[i * d..(i + 1) * d]);
            }
        }
        for metric in [Metric::Euclidean, Metric::Dot] {
            let o = MetricOptions {
                metric,
                normalize: false,
            };
            let (q, c) = (
                MatRef::new(&q, nq, d).unwrap(),
                MatRef::new(&c, nc, d).unwrap(),
            );
            let dist = Distances::new(q, Some(c), o);
            let skip = |r: usize| r + 3;
            let whole = list_bits(by_heaps(&dist, k, skip, 1).unwrap());
            assert_eq!(
                whole,
                list_bits(by_selection(&dist, k, skip).unwrap()),
                "{metric:?}"
            );
            for parts in [2, 3, 7] {
                let split = list_bits(by_heaps(&dist, k, skip, parts).unwrap());
                assert_eq!(split, whole, "{metric:?}, {parts} parts");
            }
        }
    }

    #[test]
    fn hand_worked_line_with_ties_and_self_exclusion() {
        // Points on a line: 0, 1, 2, 3, 1. Query 1 (value 1) has neighbours 4 (d 0),
        // then 0 and 2 (d 1 each: the lower index first).
        let x = [0.0f32, 1.0, 2.0, 3.0, 1.0];
        let m = MatRef::new(&x, 5, 1).unwrap();
        let r = run(m, m, 3, Metric::Euclidean, true, 0);
        assert_eq!(&r.indices[3..6], &[4, 0, 2]);
        assert_eq!(&r.distances[3..6], &[0.0, 1.0, 1.0]);
        let r = run(m, m, 2, Metric::Euclidean, false, 0);
        assert_eq!(&r.indices[2..4], &[1, 4]);
        // With an offset, query 0 of the batch is global query 3.
        let q = MatRef::new(&x[3..4], 1, 1).unwrap();
        let r = run(q, m, 1, Metric::SqEuclidean, true, 3);
        assert_eq!((r.indices[0], r.distances[0]), (2, 1.0));
    }

    #[test]
    fn k_outside_its_range_is_an_error() {
        let x = [0.0f32, 1.0];
        let m = MatRef::new(&x, 2, 1).unwrap();
        for (k, ex) in [(0, false), (3, false), (2, true)] {
            let o = KnnOptions {
                k,
                exclude_self: ex,
                query_offset: 0,
            };
            let err = knn_once(
                &crate::Cpu,
                m,
                m,
                &MetricOptions::default(),
                &o,
                &Call::PLAIN,
            )
            .unwrap_err();
            assert!(
                matches!(err, Error::Invalid(ref m) if m.starts_with("opts.k: ")),
                "{err}"
            );
        }
    }
}
