//! Ladder loss (Zhou et al., "Ladder Loss for Coherent Visual-Semantic Embedding", AAAI 2020):
//! graded relevance as rungs. On rung l, the candidates whose relevance is ≥ θ_l must be more
//! similar to the query than those below θ_l, by the margin α_l.
//!
//! The op is the `ladder_terms` primitive: one distance pass (s = −d for dot, 1 − d for
//! cosine), read in float64; per query and rung its hardest pair or every pair; the gradient
//! back through the same matrix by the coefficient GEMMs. On a GPU the matrices stay on the
//! device.

use crate::distances::backward;
use crate::distances::{Exact, Rows};
use crate::{
    distances::pair, rules, Call, Device, Error, LadderOptions, MatRef, Metric, MetricOptions,
    RowTerms, Similarity,
};

#[derive(Debug, Clone)]
pub struct LadderResult {
    pub loss: f64,
    pub grad_queries: Vec<f32>,
    pub grad_candidates: Vec<f32>,
}

/// loss = Σ_l β_l · mean over queries of, per query: [α_l − min_{r ≥ θ_l} s + max_{r < θ_l} s]₊
/// (`hardest`), or the mean of [α_l − s(q, c⁺) + s(q, c⁻)]₊ over every pair across the rung.
/// A query with no candidate on one side of a rung adds 0 for it and still counts in the mean;
/// relevance exactly θ_l counts as above the rung.
pub fn ladder_loss(
    dev: &dyn Device,
    queries: MatRef,
    candidates: MatRef,
    relevance: MatRef,
    o: &LadderOptions,
    call: &Call,
) -> Result<LadderResult, Error> {
    let metric = check(queries, candidates, relevance, o)?;
    let (pq, pc) = (
        Rows::prepare(queries, metric),
        Rows::prepare(candidates, metric),
    );
    let terms = dev.ladder_terms(&pq, &pc, relevance, o, call)?;
    // The queries' losses summed in row order.
    let loss = terms.losses.iter().fold(0.0, |acc, l| acc + l);
    let mut grads = terms
        .grads
        .ok_or_else(|| Error::Internal("a ladder pass returned no gradient".into()))?;
    if pq.is_unit() {
        pair::normalize_backward(queries.data(), queries.cols(), &mut grads.a);
        if let Some(gc) = grads.b.as_mut() {
            pair::normalize_backward(candidates.data(), candidates.cols(), gc);
        }
    }
    let to_f32 = |v: Vec<f64>| pair::grads_to_f32(&v);
    Ok(LadderResult {
        loss,
        grad_queries: to_f32(grads.a),
        grad_candidates: to_f32(grads.b.unwrap_or_default()),
    })
}

/// `Device::ladder_terms` by its definition: the distances, each query's rungs on the host, and
/// the device's backward products.
pub fn ladder_on_host(
    dev: &dyn Device,
    q: &Rows,
    c: &Rows,
    relevance: MatRef,
    o: &LadderOptions,
    call: &Call,
) -> Result<RowTerms, Error> {
    let d = dev.distances(q, Some(c), call)?;
    let exact = Exact::new(&d, q, Some(c));
    let (losses, g) = coefficients(&exact, relevance, o, call)?;
    let coef = backward::coefficients(q.options().metric, &g, &exact);
    let grads = dev.backward(q, Some(c), &coef, call)?;
    Ok(RowTerms {
        losses,
        grads: Some(grads),
    })
}

/// The argument rules of `ladder_loss`, for every device; the distance the similarities come
/// from.
pub fn check(
    queries: MatRef,
    candidates: MatRef,
    relevance: MatRef,
    o: &LadderOptions,
) -> Result<MetricOptions, Error> {
    rules::same_cols("candidates", candidates, "queries", queries)?;
    let (nq, nc) = (queries.rows(), candidates.rows());
    if relevance.rows() != nq || relevance.cols() != nc {
        return Err(Error::invalid(
            "relevance",
            format!(
                "expected {nq} × {nc} (queries × candidates), received {} × {}",
                relevance.rows(),
                relevance.cols()
            ),
        ));
    }
    check_rungs(o)?;
    Ok(MetricOptions {
        metric: match o.similarity {
            Similarity::Dot => Metric::Dot,
            Similarity::Cosine => Metric::Cosine,
        },
        normalize: false,
    })
}

/// Each query's loss and ∂(their sum)/∂d from the queries × candidates distances `d`.
pub fn coefficients(
    d: &Exact,
    relevance: MatRef,
    o: &LadderOptions,
    call: &Call,
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let (nq, nc) = (relevance.rows(), relevance.cols());
    // s = const − d: the constant (1 for cosine, 0 for dot) cancels in every difference.
    let s = |i: usize, j: usize| -d.at(i, j);
    let _held =
        crate::runtime::budget::reserve(nq.saturating_mul(nc).saturating_mul(8), "ladderLoss")?;
    let mut g = vec![0.0f64; nq * nc]; // ∂L/∂s
    let mut losses = vec![0.0f64; nq];
    let per_query = if nq > 0 { 1.0 / nq as f64 } else { 0.0 };
    for (l, &theta) in o.thresholds.iter().enumerate() {
        let (alpha, beta) = (o.margins[l], o.weights.get(l).copied().unwrap_or(1.0));
        let w = beta * per_query;
        for i in 0..nq {
            call.stop.check()?;
            let rel = relevance.row(i);
            let above: Vec<usize> = (0..nc).filter(|&j| f64::from(rel[j]) >= theta).collect();
            let below: Vec<usize> = (0..nc).filter(|&j| f64::from(rel[j]) < theta).collect();
            if above.is_empty() || below.is_empty() {
                continue;
            }
            let gi = &mut g[i * nc..(i + 1) * nc];
            if o.hardest {
                // Ties go to the lower index (the first found).
                let p = above
                    .iter()
                    .copied()
                    .fold(above[0], |b, j| if s(i, j) < s(i, b) { j } else { b });
                let n = below
                    .iter()
                    .copied()
                    .fold(below[0], |b, j| if s(i, j) > s(i, b) { j } else { b });
                let h = alpha - s(i, p) + s(i, n);
                if h > 0.0 {
                    losses[i] += w * h;
                    gi[p] -= w;
                    gi[n] += w;
                }
            } else {
                let wp = w / (above.len() * below.len()) as f64;
                for &p in &above {
                    for &n in &below {
                        let h = alpha - s(i, p) + s(i, n);
                        if h > 0.0 {
                            losses[i] += wp * h;
                            gi[p] -= wp;
                            gi[n] += wp;
                        }
                    }
                }
            }
        }
        call.stop.check()?;
    }
    // ∂L/∂d = −∂L/∂s.
    g.iter_mut().for_each(|v| *v = -*v);
    Ok((losses, g))
}

/// Thresholds strictly decreasing and finite; one margin (and weight, if any) per threshold.
fn check_rungs(o: &LadderOptions) -> Result<(), Error> {
    let n = o.thresholds.len();
    if n == 0 {
        return Err(Error::invalid(
            "opts.thresholds",
            "expected at least one threshold, received none",
        ));
    }
    for (name, v) in [
        ("opts.thresholds", &o.thresholds),
        ("opts.margins", &o.margins),
        ("opts.weights", &o.weights),
    ] {
        let optional = name == "opts.weights" && v.is_empty();
        if name != "opts.thresholds" && !(v.len() == n || optional) {
            return Err(Error::invalid(
                name,
                format!(
                    "expected {n} numbers (one per threshold), received {}",
                    v.len()
                ),
            ));
        }
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(
                &format!("{name}[{i}]"),
                format!(
                    "expected a finite number, received {}",
                    rules::js_number(v[i])
                ),
            ));
        }
    }
    if let Some(i) = (1..n).find(|&i| o.thresholds[i] >= o.thresholds[i - 1]) {
        return Err(Error::invalid(
            &format!("opts.thresholds[{i}]"),
            format!(
                "expected less than opts.thresholds[{}] = {} (θ₁ > θ₂ > …), received {}",
                i - 1,
                o.thresholds[i - 1],
                o.thresholds[i]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_dot() {
        // One query q = (1, 0); candidates c0 = (1, 0), c1 = (0.5, 0), c2 = (0, 0), with
        // relevance 1, 0.5, 0 → similarities 1, 0.5, 0. Rungs θ = (0.75, 0.25), α = (0.8, 0.7).
        // Hardest: rung 1: above {c0}, below {c1, c2}: 0.8 − 1 + 0.5 = 0.3. Rung 2: above
        // {c0, c1}, below {c2}: 0.7 − 0.5 + 0 = 0.2. Loss 0.5.
        // All pairs: rung 1: [0.8 − 1 + 0.5]₊ = 0.3, [0.8 − 1 + 0]₊ = 0 → mean 0.15; rung 2:
        // [0.7 − 1 + 0]₊ = 0, [0.7 − 0.5 + 0]₊ = 0.2 → mean 0.1. Loss 0.25.
        let q = [1.0f32, 0.0];
        let c = [1.0f32, 0.0, 0.5, 0.0, 0.0, 0.0];
        let r = [1.0f32, 0.5, 0.0];
        let (qm, cm, rm) = (
            MatRef::new(&q, 1, 2).unwrap(),
            MatRef::new(&c, 3, 2).unwrap(),
            MatRef::new(&r, 1, 3).unwrap(),
        );
        let o = |hardest| LadderOptions {
            thresholds: vec![0.75, 0.25],
            margins: vec![0.8, 0.7],
            weights: vec![],
            hardest,
            similarity: Similarity::Dot,
        };
        let hard = ladder_loss(&crate::Cpu, qm, cm, rm, &o(true), &Call::PLAIN).unwrap();
        assert!((hard.loss - 0.5).abs() < 1e-6, "{}", hard.loss);
        // ∂/∂q = −c0 + c1 (rung 1) − c1 + c2 (rung 2) = (−1, 0).
        assert!((hard.grad_queries[0] + 1.0).abs() < 1e-6 && hard.grad_queries[1].abs() < 1e-6);
        let all = ladder_loss(&crate::Cpu, qm, cm, rm, &o(false), &Call::PLAIN).unwrap();
        assert!((all.loss - 0.25).abs() < 1e-6, "{}", all.loss);
    }

    #[test]
    fn rungs_are_checked() {
        let q = [1.0f32];
        let m = MatRef::new(&q, 1, 1).unwrap();
        let o = LadderOptions {
            thresholds: vec![0.5, 0.5],
            margins: vec![0.1, 0.1],
            weights: vec![],
            hardest: true,
            similarity: Similarity::Dot,
        };
        let err = ladder_loss(&crate::Cpu, m, m, m, &o, &Call::PLAIN).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("opts.thresholds[1]: expected less than"),
            "{err}"
        );
    }
}
