//! Batch-hard mining through the tile unit: each anchor's nearest negative is knn with k = 1
//! over the other classes' rows (`knn_bounded`: bfloat16 bounds, then exact distances for the
//! few rows they leave), and its farthest positive is computed exactly from its class's rows.
//! The triplets are the fold's (`batch_hard_folded`): the same distances decide, ties to the
//! lower index.

use super::{class_members, Roles, Triplets};
use crate::distances::knn_bounded::{self, Products};
use crate::distances::Distances;
use crate::runtime::par;
use crate::Error;

pub(super) fn batch_hard(
    dist: &Distances,
    roles: Roles,
    products: Products,
) -> Result<Triplets, Error> {
    let classes = Some((roles.anchors, roles.candidates));
    let nearest = knn_bounded::by_bounds(dist, 1, |_| usize::MAX, classes, products)?;
    let negatives: Vec<i32> = nearest.into_iter().flat_map(|k| k.indices).collect();
    let farthest = farthest_positives(dist, roles)?;
    let mut t = Triplets::default();
    for (a, (p, &n)) in farthest.into_iter().zip(&negatives).enumerate() {
        if let (Some(p), true) = (p, n >= 0) {
            t.push(a, p as usize, n as usize);
        }
    }
    Ok(t)
}

/// A block of the positives' pass: at most this many anchors × candidates of one class.
const BLOCK_ROWS: usize = 256;
const BLOCK_COLS: usize = 2048;

/// Each anchor's farthest positive, the first of the largest distance in ascending column
/// order (as the fold keeps it): a class's anchors against its candidates in gathered blocks
/// of exact distances (memory bounded whatever the class size), blocks in parallel.
fn farthest_positives(dist: &Distances, roles: Roles) -> Result<Vec<Option<i32>>, Error> {
    let members = class_members(roles.candidates);
    let anchors = class_members(roles.anchors);
    let mut items: Vec<(&[usize], &[usize])> = Vec::new();
    for (label, rows) in &anchors {
        if let Some(cols) = members.get(label) {
            items.extend(rows.chunks(BLOCK_ROWS).map(|r| (r, cols.as_slice())));
        }
    }
    // Largest blocks first, so the parallel pass ends evenly; then by first row, so the order
    // does not depend on the map's.
    items.sort_by_key(|(rows, cols)| std::cmp::Reverse((rows.len() * cols.len(), rows[0])));
    let found = par::map(items, false, |(rows, cols)| {
        if dist.stop().requested() {
            return None;
        }
        let r32: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
        let mut best: Vec<Option<(f32, usize)>> = vec![None; rows.len()];
        let mut d = Vec::new();
        for part in cols.chunks(BLOCK_COLS) {
            let c32: Vec<u32> = part.iter().map(|&j| j as u32).collect();
            d.resize(rows.len() * part.len(), 0.0f32);
            dist.distances_gathered(&r32, &c32, &mut d);
            for ((&a, row), b) in rows.iter().zip(d.chunks(part.len())).zip(&mut best) {
                for (&j, &dj) in part.iter().zip(row) {
                    if roles.positive(a, j) && b.is_none_or(|(bd, _)| dj > bd) {
                        *b = Some((dj, j));
                    }
                }
            }
        }
        Some(
            rows.iter()
                .zip(best)
                .map(|(&a, b)| (a, b.map(|(_, j)| j as i32)))
                .collect::<Vec<_>>(),
        )
    })
    .into_iter()
    .collect::<Option<Vec<_>>>()
    .ok_or(Error::Cancelled)?;
    let mut out = vec![None; dist.rows()];
    for (a, p) in found.into_iter().flatten() {
        out[a] = p;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metric, MetricOptions};

    /// Collapsed rows (one row plus tiny noise): the bounds separate nothing, the pass gives
    /// up on them part way and finishes exactly, with the anchor's class still left out.
    #[test]
    fn collapsed_rows_give_the_folds_triplets() {
        let (n, d) = (2600, 33);
        let mut seed = 12u64;
        let base: Vec<f32> = (0..d).map(|_| crate::testing::lcg(&mut seed)).collect();
        let x: Vec<f32> = (0..n * d)
            .map(|i| base[i % d] + 1e-4 * crate::testing::lcg(&mut seed))
            .collect();
        let labels: Vec<i32> = (0..n as i32).map(|i| i % 13).collect();
        let roles = Roles {
            anchors: &labels,
            candidates: &labels,
            self_mode: true,
        };
        let o = MetricOptions::default();
        let dist = Distances::new(crate::MatRef::new(&x, n, d).unwrap(), None, o);
        let want = super::super::batch_hard_folded(&dist, roles).unwrap();
        let kinds = Products::here();
        for kind in kinds {
            let got = batch_hard(&dist, roles, kind).unwrap();
            assert_eq!(
                (&got.anchor, &got.positive, &got.negative),
                (&want.anchor, &want.positive, &want.negative),
                "{kind:?}"
            );
        }
    }

    /// The triplets through the bounds are the fold's, on every metric, against itself and
    /// against a reference set, for the software model and the unit where there is one: rows
    /// with duplicates (ties between negatives and between positives), a class alone (no
    /// negative is impossible with several classes, so one anchor has no positive instead).
    #[test]
    fn bounded_triplets_are_the_folds() {
        let (n, d) = (157, 41);
        let mut seed = 8u64;
        let mut x: Vec<f32> = (0..n * d).map(|_| crate::testing::lcg(&mut seed)).collect();
        // Rows 10..20 copy rows 0..10: exact ties.
        let (head, tail) = x.split_at_mut(10 * d);
        tail[..10 * d].copy_from_slice(head);
        let mut labels: Vec<i32> = (0..n as i32).map(|i| i % 9).collect();
        labels[n - 1] = 99;
        let r: Vec<f32> = (0..60 * d)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        let r_labels: Vec<i32> = (0..60).map(|i| i % 5).collect();
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
            let xm = crate::MatRef::new(&x, n, d).unwrap();
            let rm = crate::MatRef::new(&r, 60, d).unwrap();
            for (dist, roles) in [
                (
                    Distances::new(xm, None, o),
                    Roles {
                        anchors: &labels,
                        candidates: &labels,
                        self_mode: true,
                    },
                ),
                (
                    Distances::new(xm, Some(rm), o),
                    Roles {
                        anchors: &labels,
                        candidates: &r_labels,
                        self_mode: false,
                    },
                ),
            ] {
                let want = super::super::batch_hard_folded(&dist, roles).unwrap();
                assert!(want.len() > 50, "{}", want.len());
                for &kind in &kinds {
                    let got = batch_hard(&dist, roles, kind).unwrap();
                    assert_eq!(
                        (&got.anchor, &got.positive, &got.negative),
                        (&want.anchor, &want.positive, &want.negative),
                        "{metric:?}, {kind:?}, self {}",
                        roles.self_mode
                    );
                }
            }
        }
    }
}
