//! Retrieval metrics as pytorch-metric-learning's AccuracyCalculator defines them.
use crate::distance::Distances;
use crate::select::{key_index, sort_key};
use crate::{rules, Call, Error, MatRef, RetrievalOptions};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retrieval {
    pub precision_at_1: f64,
    pub r_precision: f64,
    pub map_at_r: f64,
    pub mrr: f64,
    pub recall_at_k: f64,
    pub precision_at_k: f64,
    /// Queries kept (those with at least one relevant reference).
    pub queries: usize,
}

/// `reference = None`: queries searched against themselves, self excluded.
/// `o.k` (≥ 1) is clamped to the number of candidates a query has.
pub fn retrieval_metrics(
    queries: MatRef,
    query_labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    o: &RetrievalOptions,
    call: &Call,
) -> Result<Retrieval, Error> {
    check(queries, query_labels, reference, o)?;
    let self_mode = reference.is_none();
    let ref_labels = reference.map_or(query_labels, |r| r.1);
    let dist = Distances::new(queries, reference.map(|r| r.0), o.distance).with_call(*call);
    let n = dist.cols();
    let w = Windows::new(query_labels, ref_labels, self_mode, o.k);
    let (k, window) = (w.k, w.window);
    let relevant = |q: usize| w.relevant(query_labels[q]);

    let sums: Vec<Sums> = dist.map_row_blocks(|r0, rows| {
        let mut s = Sums::default();
        let mut ranked = Vec::with_capacity(n);
        for (qi, row) in rows.chunks(n).enumerate() {
            let q = r0 + qi;
            let r = relevant(q);
            if r == 0 {
                continue;
            }
            ranked.clear();
            ranked.extend(
                row.iter()
                    .enumerate()
                    .filter(|&(j, _)| !(self_mode && j == q))
                    .map(|(j, &d)| sort_key(d, j as u32)),
            );
            let is_rel = |&c: &u64| ref_labels[key_index(c)] == query_labels[q];
            s.add(&query_metrics(&mut ranked, r, k, window, is_rel));
        }
        s
    })?;
    let total = sums.iter().fold(Sums::default(), |mut acc, s| {
        acc.add_sums(s);
        acc
    });
    Ok(total.mean())
}

/// The argument rules of `retrieval_metrics`, for every device.
pub fn check(
    queries: MatRef,
    query_labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    o: &RetrievalOptions,
) -> Result<(), Error> {
    rules::labels("queryLabels", query_labels, queries.rows())?;
    if let Some((r, l)) = reference {
        rules::labels("referenceLabels", l, r.rows())?;
        rules::same_cols("reference", r, "queries", queries)?;
    }
    rules::positive("k", o.k)
}

/// What ranks the metrics read: each query's relevant count, the k used (`o.k` clamped to the
/// candidates), and the window, max(largest relevant count, k) at most the candidates: every
/// metric is decided by a query's first `window` neighbours.
pub struct Windows {
    counts: HashMap<i32, usize>,
    self_mode: bool,
    pub k: usize,
    pub window: usize,
}

impl Windows {
    pub fn new(query_labels: &[i32], ref_labels: &[i32], self_mode: bool, k: usize) -> Windows {
        let mut counts: HashMap<i32, usize> = HashMap::new();
        for &l in ref_labels {
            *counts.entry(l).or_default() += 1;
        }
        let candidates = ref_labels.len().saturating_sub(usize::from(self_mode));
        let mut w = Windows {
            counts,
            self_mode,
            k: k.min(candidates),
            window: 0,
        };
        let r_max = query_labels
            .iter()
            .map(|&l| w.relevant(l))
            .max()
            .unwrap_or(0);
        w.window = r_max.max(w.k).min(candidates);
        w
    }

    /// Relevant references of a query with this label (itself excluded in self mode).
    pub fn relevant(&self, label: i32) -> usize {
        let c = self.counts.get(&label).copied().unwrap_or(0);
        c - usize::from(self.self_mode && c > 0)
    }
}

/// The metrics from each query's `w.window` nearest references, given as indices ascending by
/// (distance, index), `w.window` a query: what a device that ranks by knn computes.
pub fn from_neighbours(
    query_labels: &[i32],
    ref_labels: &[i32],
    w: &Windows,
    neighbours: &[i32],
) -> Retrieval {
    let mut s = Sums::default();
    if w.window == 0 {
        return s.mean();
    }
    for (q, list) in neighbours.chunks(w.window).enumerate() {
        let r = w.relevant(query_labels[q]);
        if r == 0 {
            continue;
        }
        let is_rel = |&j: &i32| j >= 0 && ref_labels[j as usize] == query_labels[q];
        let (mut hits, mut ap) = (0usize, 0.0f64);
        for (i, j) in list[..r].iter().enumerate() {
            if is_rel(j) {
                hits += 1;
                ap += hits as f64 / (i + 1) as f64;
            }
        }
        let hits_k = list[..w.k].iter().filter(|j| is_rel(j)).count();
        s.add(&QueryMetrics {
            p1: f64::from(u8::from(is_rel(&list[0]))),
            r_precision: hits as f64 / r as f64,
            map_at_r: ap / r as f64,
            mrr: list
                .iter()
                .position(is_rel)
                .map_or(0.0, |at| 1.0 / (at + 1) as f64),
            recall_k: f64::from(u8::from(hits_k > 0)),
            precision_k: if w.k > 0 {
                hits_k as f64 / w.k as f64
            } else {
                0.0
            },
        });
    }
    s.mean()
}

/// One query's metrics, each in [0, 1].
#[derive(Default)]
struct QueryMetrics {
    p1: f64,
    r_precision: f64,
    map_at_r: f64,
    mrr: f64,
    recall_k: f64,
    precision_k: f64,
}

/// `ranked`: the `sort_key` of every candidate of one query, in any order (it is partly sorted
/// here); `r` relevant among them. Only the first max(r, k) are sorted; the rank of the first
/// relevant is read off them, or (rarely) counted in one more pass over the rest, so a query
/// costs O(n + r log r).
fn query_metrics(
    ranked: &mut [u64],
    r: usize,
    k: usize,
    window: usize,
    is_rel: impl Fn(&u64) -> bool,
) -> QueryMetrics {
    let head = r.max(k).min(ranked.len());
    if head < ranked.len() {
        ranked.select_nth_unstable(head);
    }
    let (top, rest) = ranked.split_at_mut(head);
    top.sort_unstable();
    let rank = match top.iter().position(&is_rel) {
        Some(at) => at + 1,
        None => {
            // Everything in `top` comes before everything in `rest`.
            let first = rest.iter().copied().filter(&is_rel).min().expect("r > 0");
            head + 1 + rest.iter().filter(|&&c| c < first).count()
        }
    };
    let (mut hits, mut ap) = (0usize, 0.0f64);
    for (i, c) in top[..r].iter().enumerate() {
        if is_rel(c) {
            hits += 1;
            ap += hits as f64 / (i + 1) as f64;
        }
    }
    let hits_k = top[..k].iter().filter(|c| is_rel(c)).count();
    QueryMetrics {
        p1: f64::from(u8::from(is_rel(&top[0]))),
        r_precision: hits as f64 / r as f64,
        map_at_r: ap / r as f64,
        mrr: if rank <= window {
            1.0 / rank as f64
        } else {
            0.0
        },
        recall_k: f64::from(u8::from(hits_k > 0)),
        precision_k: if k > 0 { hits_k as f64 / k as f64 } else { 0.0 },
    }
}

/// Running sums of the per-query metrics.
#[derive(Default)]
struct Sums {
    m: [f64; 6],
    queries: usize,
}

impl Sums {
    fn add(&mut self, q: &QueryMetrics) {
        let v = [
            q.p1,
            q.r_precision,
            q.map_at_r,
            q.mrr,
            q.recall_k,
            q.precision_k,
        ];
        self.m.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        self.queries += 1;
    }
    fn add_sums(&mut self, o: &Sums) {
        self.m.iter_mut().zip(o.m).for_each(|(s, x)| *s += x);
        self.queries += o.queries;
    }
    fn mean(&self) -> Retrieval {
        let q = self.queries.max(1) as f64;
        Retrieval {
            precision_at_1: self.m[0] / q,
            r_precision: self.m[1] / q,
            map_at_r: self.m[2] / q,
            mrr: self.m[3] / q,
            recall_at_k: self.m[4] / q,
            precision_at_k: self.m[5] / q,
            queries: self.queries,
        }
    }
}
