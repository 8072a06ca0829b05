//! Exact k-nearest neighbours by tiled distances and per-row top-k.
//!
//! Row blocks run in parallel; each walks the corpus one tile at a time and folds the tile
//! into its rows' top-k lists, so memory is O(rows·k + tile) whatever the corpus size. The
//! corpus is prepared once (`Rows`) and serves every batch of queries.

use crate::distance::{Distances, Rows};
use crate::select::{Ranked, TopK};
use crate::{rules, Call, Error, KnnOptions, MatRef};
use std::borrow::Cow;

/// Row-major `queries.rows × k` results, each row ascending by (distance, index).
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    pub indices: Vec<i32>,
    pub distances: Vec<f32>,
}

/// The `k` nearest rows of `corpus` for every query row, under the options the corpus was
/// prepared with. `exclude_self`: query i (global index `query_offset + i`) never returns
/// that corpus index.
pub fn knn(queries: MatRef, corpus: &Rows, o: &KnnOptions, call: &Call) -> Result<Knn, Error> {
    rules::knn_k(o.k, corpus.rows(), o.exclude_self)?;
    let k = o.k;
    // The result and the per-row heaps: 8 bytes a neighbour each.
    let bytes = queries.rows().saturating_mul(k).saturating_mul(16);
    let _held = crate::budget::reserve(bytes, "knn")?;
    let q = Rows::prepare(queries, corpus.options());
    let dist = Distances::between(Cow::Owned(q), Some(Cow::Borrowed(corpus)))?.with_call(*call);
    let per_block: Vec<Vec<TopK>> = dist.fold_tiles(
        |r0, r1| (r0..r1).map(|_| TopK::new(k)).collect(),
        |tops: &mut Vec<TopK>, r0, c0, tile| {
            let w = tile.len() / tops.len();
            for (ri, (top, row)) in tops.iter_mut().zip(tile.chunks(w)).enumerate() {
                let skip = if o.exclude_self {
                    o.query_offset + r0 + ri
                } else {
                    usize::MAX
                };
                for (jj, &d) in row.iter().enumerate() {
                    // Most candidates fail this one comparison; push settles ties by index.
                    if d <= top.threshold() && c0 + jj != skip {
                        top.push(Ranked {
                            d,
                            i: (c0 + jj) as u32,
                        });
                    }
                }
            }
        },
    )?;

    let mut out = Knn {
        indices: Vec::with_capacity(dist.rows() * k),
        distances: Vec::with_capacity(dist.rows() * k),
    };
    for top in per_block.into_iter().flatten() {
        // k obeys the rule above, so every list is full; the padding only keeps the shape
        // exact should a device ever return fewer.
        let items = top.into_sorted();
        for t in 0..k {
            match items.get(t) {
                Some(r) => {
                    out.indices.push(r.i as i32);
                    out.distances.push(r.d);
                }
                None => {
                    out.indices.push(-1);
                    out.distances.push(f32::INFINITY);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metric, MetricOptions};

    fn run(q: MatRef, c: MatRef, k: usize, metric: Metric, ex: bool, off: usize) -> Knn {
        let corpus = Rows::prepare(
            c,
            MetricOptions {
                metric,
                normalize: false,
            },
        );
        let o = KnnOptions {
            k,
            exclude_self: ex,
            query_offset: off,
        };
        knn(q, &corpus, &o, &Call::PLAIN).unwrap()
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
        let corpus = Rows::prepare(m, MetricOptions::default());
        for (k, ex) in [(0, false), (3, false), (2, true)] {
            let o = KnnOptions {
                k,
                exclude_self: ex,
                query_offset: 0,
            };
            let err = knn(m, &corpus, &o, &Call::PLAIN).unwrap_err();
            assert!(
                matches!(err, Error::Invalid(ref m) if m.starts_with("k: ")),
                "{err}"
            );
        }
    }
}
