//! Online triplet mining from a labelled batch.
use crate::distance::{blocks, full_row_block, tile_shape, Distances};
use crate::select::Ranked;
use crate::{Error, MatRef, Metric};
use rayon::prelude::*;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

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
            _ => return Err(Error::Invalid(format!("unknown mining strategy '{s}'"))),
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
    pub fn len(&self) -> usize {
        self.anchor.len()
    }
    pub fn is_empty(&self) -> bool {
        self.anchor.is_empty()
    }
}

/// Mines triplets as API.md defines each strategy. Set strategies fail with
/// `Error::TooManyTriplets` rather than grow past `max_triplets`.
pub fn mine_triplets(
    x: MatRef,
    labels: &[i32],
    strategy: Strategy,
    margin: f32,
    metric: Metric,
    normalize: bool,
    max_triplets: usize,
) -> Result<Triplets, Error> {
    if labels.len() != x.rows {
        return Err(Error::Invalid(format!(
            "labels: expected {} labels, received {}",
            x.rows,
            labels.len()
        )));
    }
    let dist = Distances::new(x, None, metric, normalize);
    Ok(match strategy {
        Strategy::BatchHard => batch_hard(&dist, labels),
        Strategy::BatchSemihard => batch_semihard(&dist, labels),
        set => return mine_set(&dist, labels, set, margin, max_triplets),
    })
}

/// Concatenates per-block triplets in block order, which is ascending anchor order.
fn concat(parts: Vec<Triplets>) -> Triplets {
    let mut out = Triplets::default();
    for p in parts {
        out.anchor.extend(p.anchor);
        out.positive.extend(p.positive);
        out.negative.extend(p.negative);
    }
    out
}

/// Hermans et al. 2017: per anchor, the farthest positive and the nearest negative.
/// Folded tile by tile: per row only the two running extremes are kept.
fn batch_hard(dist: &Distances, labels: &[i32]) -> Triplets {
    let (block, chunk) = tile_shape(dist.rows(), dist.cols());
    let parts = blocks(dist.rows(), block)
        .into_par_iter()
        .map(|(r0, r1)| {
            let mut pos: Vec<Option<Ranked>> = vec![None; r1 - r0];
            let mut neg: Vec<Option<Ranked>> = vec![None; r1 - r0];
            let mut tile = vec![0.0f32; (r1 - r0) * chunk];
            for (c0, c1) in blocks(dist.cols(), chunk) {
                let w = c1 - c0;
                let tile = &mut tile[..(r1 - r0) * w];
                dist.tile(r0, r1, c0, c1, tile);
                for ri in 0..r1 - r0 {
                    let a = r0 + ri;
                    for (jj, &d) in tile[ri * w..(ri + 1) * w].iter().enumerate() {
                        let j = c0 + jj;
                        let c = Ranked { d, i: j as u32 };
                        if labels[j] == labels[a] {
                            // Strict comparisons: columns come in ascending order, so the
                            // first (lowest) index wins a tie.
                            if j != a && pos[ri].is_none_or(|p| d > p.d) {
                                pos[ri] = Some(c);
                            }
                        } else if neg[ri].is_none_or(|n| d < n.d) {
                            neg[ri] = Some(c);
                        }
                    }
                }
            }
            let mut t = Triplets::default();
            for ri in 0..r1 - r0 {
                if let (Some(p), Some(n)) = (pos[ri], neg[ri]) {
                    t.anchor.push((r0 + ri) as i32);
                    t.positive.push(p.i as i32);
                    t.negative.push(n.i as i32);
                }
            }
            t
        })
        .collect();
    concat(parts)
}

/// FaceNet's online semi-hard negatives, as TensorFlow Addons' TripletSemiHardLoss: for each
/// positive pair, the nearest negative that is farther than the positive; failing that, the
/// farthest negative.
fn batch_semihard(dist: &Distances, labels: &[i32]) -> Triplets {
    let n = dist.cols();
    let block = full_row_block(dist.rows(), n);
    let parts = blocks(dist.rows(), block)
        .into_par_iter()
        .map(|(r0, r1)| {
            let mut rows = vec![0.0f32; (r1 - r0) * n];
            dist.tile(r0, r1, 0, n, &mut rows);
            let mut t = Triplets::default();
            for a in r0..r1 {
                semihard_row(a, &rows[(a - r0) * n..(a - r0 + 1) * n], labels, &mut t);
            }
            t
        })
        .collect();
    concat(parts)
}

/// Semi-hard negatives for every positive of anchor `a`, given its row of distances, in
/// O(n log P): a negative at distance d serves exactly the positives closer than d, which
/// form a prefix of the positives sorted by distance. Each negative is dropped into the
/// bucket at the end of its prefix; a suffix minimum over the buckets then gives every
/// positive its nearest farther negative.
fn semihard_row(a: usize, row: &[f32], labels: &[i32], out: &mut Triplets) {
    let positives: Vec<usize> = (0..row.len())
        .filter(|&j| j != a && labels[j] == labels[a])
        .collect();
    if positives.is_empty() {
        return;
    }
    let mut sorted: Vec<f32> = positives.iter().map(|&p| row[p]).collect();
    sorted.sort_by(f32::total_cmp);
    let mut bucket: Vec<Option<Ranked>> = vec![None; sorted.len()];
    let mut farthest: Option<Ranked> = None;
    for (j, &d) in row.iter().enumerate() {
        if labels[j] == labels[a] {
            continue;
        }
        let c = Ranked { d, i: j as u32 };
        if farthest.is_none_or(|f| d > f.d) {
            farthest = Some(c);
        }
        // Most negatives are nearer than every positive or farther than all of them.
        let closer = if d <= sorted[0] {
            0
        } else if d > sorted[sorted.len() - 1] {
            sorted.len()
        } else {
            sorted.partition_point(|&p| p < d)
        };
        if closer > 0 && bucket[closer - 1].is_none_or(|b| c.before(&b)) {
            bucket[closer - 1] = Some(c);
        }
    }
    let Some(farthest) = farthest else { return };
    for r in (0..bucket.len().saturating_sub(1)).rev() {
        if let Some(next) = bucket[r + 1] {
            if bucket[r].is_none_or(|b| next.before(&b)) {
                bucket[r] = Some(next);
            }
        }
    }
    for &p in &positives {
        let rank = sorted.partition_point(|&v| v < row[p]);
        let neg = bucket[rank].unwrap_or(farthest);
        out.anchor.push(a as i32);
        out.positive.push(p as i32);
        out.negative.push(neg.i as i32);
    }
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

/// Every valid triplet that passes the strategy's filter, streamed anchor by anchor; stops
/// with an error as soon as the total would pass `max_triplets`.
fn mine_set(
    dist: &Distances,
    labels: &[i32],
    strategy: Strategy,
    margin: f32,
    max_triplets: usize,
) -> Result<Triplets, Error> {
    let n = dist.cols();
    let block = full_row_block(dist.rows(), n);
    let total = AtomicUsize::new(0);
    let parts: Result<Vec<Triplets>, Error> = blocks(dist.rows(), block)
        .into_par_iter()
        .map(|(r0, r1)| {
            let mut rows = vec![0.0f32; (r1 - r0) * n];
            dist.tile(r0, r1, 0, n, &mut rows);
            let mut t = Triplets::default();
            for a in r0..r1 {
                let row = &rows[(a - r0) * n..(a - r0 + 1) * n];
                let negatives: Vec<usize> = (0..n).filter(|&j| labels[j] != labels[a]).collect();
                let before = t.len();
                for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
                    for &ng in &negatives {
                        if keeps(strategy, row[ng] - row[p], margin) {
                            t.anchor.push(a as i32);
                            t.positive.push(p as i32);
                            t.negative.push(ng as i32);
                        }
                    }
                    if total.load(Ordering::Relaxed) + t.len() - before > max_triplets {
                        return Err(Error::TooManyTriplets {
                            limit: max_triplets,
                        });
                    }
                }
                if total.fetch_add(t.len() - before, Ordering::Relaxed) + t.len() - before
                    > max_triplets
                {
                    return Err(Error::TooManyTriplets {
                        limit: max_triplets,
                    });
                }
            }
            Ok(t)
        })
        .collect();
    Ok(concat(parts?))
}
