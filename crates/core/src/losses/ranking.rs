//! Multiple negatives ranking loss (Henderson et al. 2017; sentence-transformers'
//! MultipleNegativesRankingLoss): each anchor must pick its own positive out of every
//! positive in the batch plus any extra hard negatives, by a softmax over scaled similarities.
//!
//! Each pass (anchors against candidates, and the symmetric one) is the `rank_terms`
//! primitive: one distance pass (s = −d for dot, 1 − d for cosine), a stable log-softmax per
//! row, and one GEMM backward through the same matrix; on a GPU the matrices stay on the
//! device. The scale multiplies the gradients last, here.

use crate::distances::backward;
use crate::distances::{Exact, Rows};
use crate::{
    distances::pair, rules, Call, Device, Error, MatRef, Metric, MetricOptions, RankingOptions,
    RowTerms, Similarity,
};

#[derive(Debug, Clone)]
pub struct RankingResult {
    pub loss: f64,
    pub grad_anchors: Vec<f32>,
    pub grad_positives: Vec<f32>,
    /// Present when negatives were given.
    pub grad_negatives: Option<Vec<f32>>,
}

/// Candidates c = [positives; negatives], s_ij = scale · sim(anchor_i, c_j),
/// loss = mean_i −log softmax_j(s_ij)[j = i]. `symmetric` also ranks anchors for each positive
/// (mean_i −log softmax_j(scale · sim(positive_i, anchor_j))[j = i]) and averages the two.
pub fn multiple_negatives_ranking_loss(
    dev: &dyn Device,
    anchors: MatRef,
    positives: MatRef,
    negatives: Option<MatRef>,
    o: &RankingOptions,
    call: &Call,
) -> Result<RankingResult, Error> {
    rules::same_shape("positives", positives, "anchors", anchors)?;
    if let Some(neg) = negatives {
        rules::same_cols("negatives", neg, "anchors", anchors)?;
    }
    rules::margin("scale", o.scale)?;
    let (m, cols) = (anchors.rows(), anchors.cols());
    let k = negatives.map_or(0, |n| n.rows());
    let candidates: Vec<f32> = match negatives {
        Some(neg) if k > 0 => [positives.data(), neg.data()].concat(),
        _ => positives.data().to_vec(),
    };
    let half = if o.symmetric { 0.5 } else { 1.0 };
    let mut loss = 0.0;
    let mut ga = vec![0.0f64; m * cols];
    let mut gc = vec![0.0f64; (m + k) * cols];
    let pass = |q: MatRef, c: MatRef, weight: f64| rank(dev, q, c, o, weight, call);
    if m > 0 {
        let c = MatRef::new(&candidates, m + k, cols)?;
        let (l, gq, gk) = pass(anchors, c, half / m as f64)?;
        loss += l;
        add(&mut ga, &gq);
        add(&mut gc, &gk);
        if o.symmetric {
            let (l, gq, gk) = pass(positives, anchors, half / m as f64)?;
            loss += l;
            add(&mut gc[..m * cols], &gq);
            add(&mut ga, &gk);
        }
    }
    let to_f32 = |g: &[f64]| {
        g.iter()
            .map(|&v| pair::grad_to_f32(v))
            .collect::<Vec<f32>>()
    };
    Ok(RankingResult {
        loss,
        grad_anchors: to_f32(&ga),
        grad_positives: to_f32(&gc[..m * cols]),
        grad_negatives: negatives.map(|_| to_f32(&gc[m * cols..])),
    })
}

/// `weight` · Σ_i −log softmax_j(scale · sim(q_i, c_j))[j = i] and its gradients with respect
/// to the queries and the candidates.
fn rank(
    dev: &dyn Device,
    q: MatRef,
    cands: MatRef,
    o: &RankingOptions,
    weight: f64,
    call: &Call,
) -> Result<(f64, Vec<f64>, Vec<f64>), Error> {
    let metric = metric(o);
    let (pq, pc) = (Rows::prepare(q, metric), Rows::prepare(cands, metric));
    let terms = dev.rank_terms(&pq, &pc, o.scale, weight, call)?;
    // The rows' losses summed in row order.
    let loss = terms.losses.iter().fold(0.0, |acc, l| acc + l);
    let mut grads = terms
        .grads
        .ok_or_else(|| Error::Internal("a ranking pass returned no gradient".into()))?;
    if pq.is_unit() {
        pair::normalize_backward(q.data(), q.cols(), &mut grads.a);
        if let Some(gc) = grads.b.as_mut() {
            pair::normalize_backward(cands.data(), cands.cols(), gc);
        }
    }
    // The scale comes in last, so that a gradient past float64's range saturates rather than
    // meeting its opposite as inf − inf.
    let scaled = |g: Vec<f64>| -> Vec<f64> {
        g.into_iter()
            .map(|v| (v * o.scale).clamp(-f64::MAX, f64::MAX))
            .collect()
    };
    Ok((loss, scaled(grads.a), scaled(grads.b.unwrap_or_default())))
}

/// `Device::rank_terms` by its definition: the distances, each query's softmax on the host, and
/// the device's backward products.
pub fn rank_on_host(
    dev: &dyn Device,
    q: &Rows,
    c: &Rows,
    scale: f64,
    weight: f64,
    call: &Call,
) -> Result<RowTerms, Error> {
    let d = dev.distances(q, Some(c), call)?;
    let exact = Exact::new(&d, q, Some(c));
    let (losses, g) = softmax_coefficients(&exact, scale, weight);
    let coef = backward::coefficients(q.options().metric, &g, &exact);
    let grads = dev.backward(q, Some(c), &coef, call)?;
    Ok(RowTerms {
        losses,
        grads: Some(grads),
    })
}

/// The distance a ranking pass takes similarities from: s = −d (dot) or 1 − d (cosine).
pub fn metric(o: &RankingOptions) -> MetricOptions {
    MetricOptions {
        metric: match o.similarity {
            Similarity::Dot => Metric::Dot,
            Similarity::Cosine => Metric::Cosine,
        },
        normalize: false,
    }
}

/// From the queries × candidates distances `d`: each row's weight · −log softmax_j(scale ·
/// s_ij)[j = i], and ∂(their sum)/∂d divided by the scale (the caller multiplies the gradients by it). Each row is
/// shifted by the similarity of its largest scaled term before the scale multiplies in, so no
/// difference of two infinities arises: a loss past float64's range is +∞, never NaN.
pub fn softmax_coefficients(d: &Exact, scale: f64, weight: f64) -> (Vec<f64>, Vec<f64>) {
    let n = d.cols();
    let rows = if n == 0 { 0 } else { d.rows() };
    let mut losses = vec![0.0f64; rows];
    // s = const − d for both similarities, so ∂L/∂d = −scale · ∂L/∂s, and
    // ∂L/∂s_ij = weight · (softmax_ij − [j = i]).
    let mut g = vec![0.0f64; rows * n];
    let mut sim = vec![0.0f64; n];
    for (i, gr) in g.chunks_mut(n.max(1)).enumerate().take(rows) {
        sim.iter_mut()
            .enumerate()
            .for_each(|(j, s)| *s = -d.at(i, j));
        // The similarity of the largest scaled one (the smallest, for a negative scale), so
        // that scale · (s − max) ≤ 0: each term is in [0, 1], and the largest is 1.
        let max = if scale >= 0.0 {
            sim.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            sim.iter().copied().fold(f64::INFINITY, f64::min)
        };
        let z: f64 = sim.iter().map(|&s| (scale * (s - max)).exp()).sum();
        losses[i] = weight * (scale * (max - sim[i]) + z.ln());
        for (j, gv) in gr.iter_mut().enumerate() {
            let p = (scale * (sim[j] - max)).exp() / z - if j == i { 1.0 } else { 0.0 };
            *gv = -weight * p;
        }
    }
    (losses, g)
}

fn add(dst: &mut [f64], src: &[f64]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_dot() {
        // Anchors a0 = (1, 0), a1 = (0, 1); positives the same rows; scale 1, dot.
        // Row 0: s = (1, 0) → −log(e / (e + 1)); row 1 the same. loss = log(1 + 1/e).
        let x = [1.0f32, 0.0, 0.0, 1.0];
        let m = MatRef::new(&x, 2, 2).unwrap();
        let o = RankingOptions {
            scale: 1.0,
            similarity: Similarity::Dot,
            symmetric: false,
        };
        let r = multiple_negatives_ranking_loss(&crate::Cpu, m, m, None, &o, &Call::PLAIN).unwrap();
        let want = (1.0 + (-1.0f64).exp()).ln();
        assert!((r.loss - want).abs() < 1e-6, "{} vs {want}", r.loss);
        // ∂L/∂a0 = ½ Σ_j (p_0j − [j = 0]) c_j = ½ ((σ − 1)·(1, 0) + (1 − σ)·(0, 1)),
        // σ = e/(e + 1).
        let sg = 1.0 / (1.0 + (-1.0f64).exp());
        let (ga0, ga1) = (0.5 * (sg - 1.0), 0.5 * (1.0 - sg));
        assert!((f64::from(r.grad_anchors[0]) - ga0).abs() < 1e-6);
        assert!((f64::from(r.grad_anchors[1]) - ga1).abs() < 1e-6);
        assert!(r.grad_negatives.is_none());
    }
}
