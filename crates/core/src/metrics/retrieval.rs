//! Retrieval metrics as pytorch-metric-learning's AccuracyCalculator defines them.
use crate::device::Searched;
use crate::{rules, Call, Device, Error, KnnOptions, MatRef, RetrievalOptions};
use std::collections::HashMap;
use std::sync::OnceLock;

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
/// `o.k` (≥ 1) is clamped to the number of candidates a query has. Every metric is read off
/// each query's first `window` neighbours (`Windows`), found by the device's top-k.
pub fn retrieval_metrics(
    dev: &dyn Device,
    queries: MatRef,
    query_labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    o: &RetrievalOptions,
    call: &Call,
) -> Result<Retrieval, Error> {
    check(queries, query_labels, reference, o)?;
    let ref_labels = reference.map_or(query_labels, |r| r.1);
    let w = Windows::new(query_labels, ref_labels, reference.is_none(), o.k);
    if let Some(max) = dev.max_k().filter(|&max| w.window > max) {
        return Err(Error::DeviceUnavailable {
            device: dev.name().into(),
            reason: format!(
                "retrievalMetrics with classes of more than {max} references (it ranks {} a query) does not run on it yet; use device 'cpu'",
                w.window
            ),
        });
    }
    let mut sums = Sums::default();
    if w.window > 0 {
        let corpus = reference.map_or(queries, |r| r.0);
        let search = |query_offset| KnnOptions {
            k: w.window,
            exclude_self: reference.is_none(),
            query_offset,
        };
        // Each query's metrics from its list as the device makes it, kept per query so that
        // they are summed in query order whatever order the lists come in. Queries go a search
        // at a time, so that a device that gathers its lists keeps them near 64 MiB however
        // large the classes. One search needs no prepared copy of the corpus (the cpu borrows
        // it); several share one.
        let rows = queries.rows();
        let slots: Vec<OnceLock<QueryMetrics>> = (0..rows).map(|_| OnceLock::new()).collect();
        let per_search = ((1usize << 26) / (8 * w.window)).max(256);
        let prepared = match rows > per_search {
            true => Some(dev.prepare_corpus(
                corpus.data().to_vec(),
                corpus.rows(),
                corpus.cols(),
                &o.distance,
            )?),
            false => None,
        };
        let cols = queries.cols();
        for q0 in (0..rows).step_by(per_search) {
            let q1 = rows.min(q0 + per_search);
            let part = MatRef::new(&queries.data()[q0 * cols..q1 * cols], q1 - q0, cols)?;
            let visit = |q: usize, list: &[i32]| {
                let q = q0 + q;
                if let Some(m) = query_metrics(query_labels[q], ref_labels, &w, list) {
                    let _ = slots[q].set(m);
                }
            };
            let searched = match &prepared {
                Some(c) => Searched::Prepared(&**c),
                None => Searched::Once(corpus, o.distance),
            };
            dev.top_k_visit(part, searched, &search(q0), call, &visit)?;
        }
        for m in slots.iter().filter_map(OnceLock::get) {
            sums.add(m);
        }
    }
    Ok(sums.mean())
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

/// One query's metrics from its `w.window` nearest references (indices ascending by
/// (distance, index)); None for a query with no relevant reference.
fn query_metrics(
    label: i32,
    ref_labels: &[i32],
    w: &Windows,
    list: &[i32],
) -> Option<QueryMetrics> {
    let r = w.relevant(label);
    if r == 0 || list.is_empty() {
        return None;
    }
    let is_rel = |&j: &i32| j >= 0 && ref_labels[j as usize] == label;
    let (mut hits, mut ap) = (0usize, 0.0f64);
    for (i, j) in list[..r].iter().enumerate() {
        if is_rel(j) {
            hits += 1;
            ap += hits as f64 / (i + 1) as f64;
        }
    }
    let hits_k = list[..w.k].iter().filter(|j| is_rel(j)).count();
    Some(QueryMetrics {
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
    })
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
