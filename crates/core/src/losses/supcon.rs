//! Supervised contrastive loss (Khosla et al., "Supervised Contrastive Learning", NeurIPS
//! 2020; as pytorch-metric-learning's SupConLoss with its defaults): each anchor pulls every
//! row of its class closer than the rest of the batch, by a softmax over cosine similarities
//! divided by a temperature.
//!
//! The op is written once over the `sup_con_terms` primitive: the cpu runs its definition
//! here (`terms_on_host`: one distance pass, each anchor's log-softmax in float64, the
//! backward products), and a GPU runs the same steps with the N × N matrices left on the
//! device, sending back only per-row sums and the gradient.

use crate::distances::backward;
use crate::distances::pair;
use crate::distances::{Exact, Rows};
use crate::{
    rules, Call, Device, Error, MatRef, Metric, MetricOptions, RowTerms, RowWeights, SupConOptions,
};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct SupConResult {
    pub loss: f64,
    /// ∂loss/∂embeddings, the embeddings' shape.
    pub grad: Vec<f32>,
    /// Anchors whose loss is > 0: the ones the mean is over.
    pub anchors: usize,
}

/// With s_ij = cos(x_i, x_j) / τ over ordered pairs i ≠ j, P(i) the rows of i's class but i
/// and A(i) every row but i: l_i = −(1/|P(i)|) Σ_{p∈P(i)} [s_ip − log Σ_{a∈A(i)} exp(s_ia)].
/// Anchors with no positive are skipped; the loss is the mean of l_i over the anchors whose
/// l_i > 0, and 0 when there is none, or when the batch has no positive or no negative pair.
pub fn sup_con_loss(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    o: &SupConOptions,
    call: &Call,
) -> Result<SupConResult, Error> {
    check(x, labels, o)?;
    let metric = MetricOptions {
        metric: Metric::Cosine,
        normalize: false,
    };
    let rows = Rows::prepare(x, metric);
    let zero = |anchors| SupConResult {
        loss: 0.0,
        grad: vec![0.0; x.rows() * x.cols()],
        anchors,
    };
    // No positive pair (no class of two rows) or no negative pair (one class): loss 0.
    let sizes = class_sizes(labels);
    if sizes.len() < 2 || sizes.values().all(|&c| c < 2) {
        return Ok(zero(0));
    }
    let positives: Vec<u32> = labels
        .iter()
        .map(|l| u32::try_from(sizes[l] - 1).unwrap_or(u32::MAX))
        .collect();
    // The mean over the anchors whose loss is > 0: ∂L/∂d = −1/(anchors · τ) · ∂l_i/∂s for
    // those, 0 for the rest.
    let counted = |losses: &[f64]| losses.iter().filter(|&&l| l > 0.0).count();
    let weights = |losses: &[f64]| {
        let scale = -1.0 / (counted(losses) as f64 * o.temperature);
        losses
            .iter()
            .map(|&l| if l > 0.0 { scale } else { 0.0 })
            .collect()
    };
    let terms = dev.sup_con_terms(&rows, labels, &positives, o.temperature, &weights, call)?;
    let anchors = counted(&terms.losses);
    let Some(grads) = terms.grads.filter(|_| anchors > 0) else {
        return Ok(zero(0));
    };
    let sum = terms
        .losses
        .iter()
        .filter(|&&l| l > 0.0)
        .fold(0.0, |s, l| s + l);
    let mut grad = grads.a;
    if rows.is_unit() {
        pair::normalize_backward(x.data(), x.cols(), &mut grad);
    }
    Ok(SupConResult {
        loss: sum / anchors as f64,
        grad: pair::grads_to_f32(&grad),
        anchors,
    })
}

/// `Device::sup_con_terms` by its definition: the distances, each anchor's log-softmax on the
/// host, and the device's backward products.
pub fn terms_on_host(
    dev: &dyn Device,
    rows: &Rows,
    labels: &[i32],
    positives: &[u32],
    temperature: f64,
    weights: RowWeights,
    call: &Call,
) -> Result<RowTerms, Error> {
    let d = dev.distances(rows, None, call)?;
    let exact = Exact::new(&d, rows, None);
    let (losses, mut g) = coefficients(&exact, labels, positives, temperature, call)?;
    let w = weights(&losses);
    if w.iter().all(|&v| v == 0.0) {
        return Ok(RowTerms {
            losses,
            grads: None,
        });
    }
    for (gi, wi) in g.chunks_mut(labels.len().max(1)).zip(w) {
        gi.iter_mut().for_each(|v| *v *= wi);
    }
    let c = backward::coefficients(Metric::Cosine, &g, &exact);
    let grads = dev.backward(rows, None, &c, call)?;
    Ok(RowTerms {
        losses,
        grads: Some(grads),
    })
}

/// The argument rules of `sup_con_loss`.
fn check(x: MatRef, labels: &[i32], o: &SupConOptions) -> Result<(), Error> {
    rules::labels("labels", labels, x.rows())?;
    if !(o.temperature.is_finite() && o.temperature > 0.0) {
        return Err(Error::invalid(
            "opts.temperature",
            format!(
                "expected a positive number, received {}",
                rules::js_number(o.temperature)
            ),
        ));
    }
    Ok(())
}

/// Each label's row count.
fn class_sizes(labels: &[i32]) -> HashMap<i32, usize> {
    let mut sizes: HashMap<i32, usize> = HashMap::new();
    for &l in labels {
        *sizes.entry(l).or_default() += 1;
    }
    sizes
}

/// Each anchor's loss (0 without a positive) and ∂l_i/∂s_ij (row i; 0 on the diagonal and for
/// an anchor without a positive), from the cosine distances d of the batch against itself and
/// each row's positive count.
pub fn coefficients(
    d: &Exact,
    labels: &[i32],
    positives: &[u32],
    temperature: f64,
    call: &Call,
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let n = labels.len();
    let _held =
        crate::runtime::budget::reserve(n.saturating_mul(n).saturating_mul(8), "supConLoss")?;
    // Row i of g: first anchor i's similarities, then ∂l_i/∂s_ij = softmax over A(i) −
    // [j ∈ P(i)]/|P(i)|. Anchors run in parallel.
    let mut g = vec![0.0f64; n * n];
    let serial = crate::runtime::par::serial(n.saturating_mul(n).saturating_mul(8));
    let losses: Vec<f64> =
        crate::runtime::par::map_chunks_mut(&mut g, n.max(1), serial, |i, gi| {
            let positives = positives[i];
            if positives == 0 || call.stop.requested() {
                return 0.0;
            }
            // s = (1 − d)/τ; the constant 1/τ cancels in every log-softmax, so s = −d/τ here.
            let mut max = f64::NEG_INFINITY;
            for (j, sj) in gi.iter_mut().enumerate() {
                *sj = if j == i {
                    f64::NEG_INFINITY
                } else {
                    -d.at(i, j) / temperature
                };
                max = max.max(*sj);
            }
            // One exponential an entry: e_ij = exp(s_ij − max) replaces s_ij; the positives'
            // similarities are read again from d (an e_ij may underflow to 0 at a small τ).
            let mut z = 0.0;
            for v in gi.iter_mut() {
                *v = (*v - max).exp();
                z += *v;
            }
            let lse = max + z.ln();
            let per = 1.0 / positives as f64;
            let mut l = 0.0;
            for j in 0..gi.len() {
                if j != i && labels[j] == labels[i] {
                    l -= per * (-d.at(i, j) / temperature - lse);
                }
            }
            for (j, gv) in gi.iter_mut().enumerate() {
                *gv = if j != i {
                    *gv / z - if labels[j] == labels[i] { per } else { 0.0 }
                } else {
                    0.0
                };
            }
            l
        });
    call.stop.check()?;
    Ok((losses, g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;

    #[test]
    fn hand_worked_two_classes() {
        // x0 = (1, 0), x1 = (1, 0), x2 = (0, 1); labels 0, 0, 1; τ = 1. Cosines: c01 = 1,
        // c02 = c12 = 0. Anchor 0: P = {1}, A = {1, 2}: l = −(1 − log(e + 1)) = log(1 + 1/e);
        // anchor 1 the same; anchor 2 has no positive. Loss log(1 + 1/e) over 2 anchors.
        let x = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0];
        let m = MatRef::new(&x, 3, 2).unwrap();
        let o = SupConOptions { temperature: 1.0 };
        let r = sup_con_loss(&Cpu, m, &[0, 0, 1], &o, &Call::PLAIN).unwrap();
        let want = (1.0 + (-1.0f64).exp()).ln();
        assert!((r.loss - want).abs() < 1e-9, "{} vs {want}", r.loss);
        assert_eq!(r.anchors, 2);
        // One class, or no class with two rows: loss 0.
        let one = sup_con_loss(&Cpu, m, &[4, 4, 4], &o, &Call::PLAIN).unwrap();
        assert_eq!((one.loss, one.anchors), (0.0, 0));
        let none = sup_con_loss(&Cpu, m, &[1, 2, 3], &o, &Call::PLAIN).unwrap();
        assert_eq!((none.loss, none.anchors), (0.0, 0));
        assert!(none.grad.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn temperature_is_checked() {
        let x = [1.0f32];
        let m = MatRef::new(&x, 1, 1).unwrap();
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let o = SupConOptions { temperature: t };
            let err = sup_con_loss(&Cpu, m, &[0], &o, &Call::PLAIN).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("opts.temperature: expected a positive number"),
                "{err}"
            );
        }
    }
}
