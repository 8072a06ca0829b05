//! Contrastive loss over every ordered pair of a labelled batch (Hadsell, Chopra & LeCun
//! 2006; as pytorch-metric-learning's ContrastiveLoss): positive pairs pulled within
//! `pos_margin`, negative pairs pushed past `neg_margin`, each side reduced on its own.
//!
//! The pairs are one primitive of the device (`pair_hinge`: distances, per-row sums, and the
//! gradient once the reduction's scales are known): O(rows²) memory, sized for batches.

use crate::device::{Hinge, HingeScales, HingeSide};
use crate::distances::backward;
use crate::distances::{Exact, Rows};
use crate::{
    distances::pair, rules, Call, ContrastiveOptions, Device, Error, LossResult, MatRef, Reduction,
};

/// Positive pair (same label, i ≠ j): max(0, d − pos_margin); negative pair: max(0,
/// neg_margin − d). loss = reduce(positive losses) + reduce(negative losses). `triplets` and
/// `active` of the result count pairs. The pairs are summed and differentiated on `dev`
/// (`pair_hinge`); the reduction's scales are chosen here.
pub fn contrastive_loss(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    o: &ContrastiveOptions,
    call: &Call,
) -> Result<LossResult, Error> {
    check(x, labels, o)?;
    let rows = Rows::prepare(x, o.distance);
    let scale = |s: &HingeSide| o.reduction.scale(s.count, s.active).unwrap_or(0.0);
    let scales = |p: &HingeSide, n: &HingeSide| [scale(p), scale(n)];
    let h = dev.pair_hinge(&rows, labels, [o.pos_margin, o.neg_margin], &scales, call)?;
    let [sp, sn] = scales(&h.pos, &h.neg);
    let pairs = h.pos.count + h.neg.count;
    let active = h.pos.active + h.neg.active;
    let Some(mut grad) = h.grad else {
        return Ok(LossResult {
            loss: 0.0,
            grad: vec![0.0; x.rows() * x.cols()],
            triplets: pairs,
            active,
        });
    };
    if rows.is_unit() {
        pair::normalize_backward(x.data(), x.cols(), &mut grad);
    }
    Ok(LossResult {
        loss: h.pos.sum * sp + h.neg.sum * sn,
        grad: pair::grads_to_f32(&grad),
        triplets: pairs,
        active,
    })
}

/// The cpu device's `pair_hinge`: the distance matrix, one pass over it for the sums and the
/// signs of ∂loss/∂d, then one GEMM backward through it. O(rows²) memory, sized for batches.
pub fn cpu_pair_hinge(
    x: &Rows,
    labels: &[i32],
    [pos_margin, neg_margin]: [f64; 2],
    scales: HingeScales,
    call: &Call,
) -> Result<Hinge, Error> {
    let n = x.rows();
    let d = crate::distances::full(x, None, call)?;
    let exact = Exact::new(&d, x, None);
    // g holds +1 / −1 for active positive / negative pairs (∂loss/∂d before reduction); rows
    // are summed in row order, so the result does not depend on the thread count.
    let _held =
        crate::runtime::budget::reserve(n.saturating_mul(n).saturating_mul(8), "contrastiveLoss")?;
    let mut g = vec![0.0f64; n * n];
    let width = n.max(1);
    let serial = crate::runtime::par::serial(n.saturating_mul(n).saturating_mul(4));
    let rows: Vec<(HingeSide, HingeSide)> =
        crate::runtime::par::map_chunks_mut(&mut g, width, serial, |i, gr| {
            let (mut pos, mut neg) = (HingeSide::default(), HingeSide::default());
            for (j, gv) in gr.iter_mut().enumerate() {
                if j == i {
                    continue;
                }
                let dv = exact.at(i, j);
                if labels[j] == labels[i] {
                    let loss = (dv - pos_margin).max(0.0);
                    pos.add(loss);
                    *gv = if loss > 0.0 { 1.0 } else { 0.0 };
                } else {
                    let loss = (neg_margin - dv).max(0.0);
                    neg.add(loss);
                    *gv = if loss > 0.0 { -1.0 } else { 0.0 };
                }
            }
            (pos, neg)
        });
    call.stop.check()?;
    let mut h = Hinge::default();
    for (p, q) in &rows {
        h.pos.merge(p);
        h.neg.merge(q);
    }
    let [sp, sn] = scales(&h.pos, &h.neg);
    if n == 0 || (sp == 0.0 && sn == 0.0) {
        return Ok(h);
    }
    for (gv, k) in g.iter_mut().zip(0..) {
        let (i, j) = (k / n, k % n);
        *gv *= if labels[i] == labels[j] { sp } else { sn };
    }
    let c = backward::coefficients(x.options().metric, &g, &exact);
    h.grad = Some(backward::prepared_backward(x, None, &c)?.a);
    Ok(h)
}

/// The argument rules of `contrastive_loss`, for every device.
pub fn check(x: MatRef, labels: &[i32], o: &ContrastiveOptions) -> Result<(), Error> {
    rules::labels("labels", labels, x.rows())?;
    rules::margin("posMargin", o.pos_margin)?;
    rules::margin("negMargin", o.neg_margin)?;
    o.reduction.check(
        "reduction",
        &[Reduction::Mean, Reduction::Sum, Reduction::MeanActive],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metric, MetricOptions};

    #[test]
    fn hand_worked_line() {
        // x = [0, 1, 3, 6], labels [0, 0, 1, 1], euclidean, posMargin 0, negMargin 4.
        // Positive pairs (both orders): d(0,1) = 1, d(2,3) = 3 → losses 1, 1, 3, 3.
        // Negative pairs: d(0,2) = 3 → 1, d(0,3) = 6 → 0, d(1,2) = 2 → 2, d(1,3) = 5 → 0,
        // each twice. 12 pairs, 8 active. Mean: 8/4 + 6/8 = 2.75; mean-active: 8/4 + 6/4 =
        // 3.5; sum: 14.
        let x = [0.0f32, 1.0, 3.0, 6.0];
        let m = MatRef::new(&x, 4, 1).unwrap();
        let run = |reduction| {
            let o = ContrastiveOptions {
                pos_margin: 0.0,
                neg_margin: 4.0,
                reduction,
                distance: MetricOptions {
                    metric: Metric::Euclidean,
                    normalize: false,
                },
            };
            contrastive_loss(&crate::Cpu, m, &[0, 0, 1, 1], &o, &Call::PLAIN).unwrap()
        };
        let mean = run(Reduction::Mean);
        assert_eq!((mean.triplets, mean.active), (12, 8));
        assert!((mean.loss - 2.75).abs() < 1e-9, "{}", mean.loss);
        assert!((run(Reduction::MeanActive).loss - 3.5).abs() < 1e-9);
        let sum = run(Reduction::Sum);
        assert!((sum.loss - 14.0).abs() < 1e-9);
        // ∂/∂x0 of the sum: positives +1 (d(0,1) grows as x0 falls: −1) twice → −2; negatives
        // (0,2) −1 · (−1) twice → +2: net 0. ∂/∂x1: +2 (positive) + (1,2): +2 → 4.
        // ∂/∂x2: −2 (pos with 3) − 2 (neg (0,2)) − 2 (neg (1,2)) → −6. ∂/∂x3: +2.
        for (g, w) in sum.grad.iter().zip([0.0, 4.0, -6.0, 2.0]) {
            assert!((g - w).abs() < 1e-6, "{:?}", sum.grad);
        }
    }
}
