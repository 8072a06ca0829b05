//! Triplet margin loss over row-aligned anchor / positive / negative matrices.
use crate::grad::{GradSum, TermOut};
use crate::pair;
use crate::term::TermRule;
use crate::{rules, Call, Error, MarginLossOptions, MatRef, Reduction};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct MarginLossResult {
    pub loss: f64,
    pub losses: Vec<f32>,
    pub grad_anchor: Vec<f32>,
    pub grad_positive: Vec<f32>,
    pub grad_negative: Vec<f32>,
}

/// Row i of `anchor`, `positive` and `negative` is one triplet (as PyTorch's
/// `TripletMarginLoss`); the three must share one shape.
pub fn triplet_margin_loss(
    anchor: MatRef,
    positive: MatRef,
    negative: MatRef,
    o: &MarginLossOptions,
    call: &Call,
) -> Result<MarginLossResult, Error> {
    let sides = inputs(anchor, positive, negative, o)?;
    let (rows, cols) = (anchor.rows(), anchor.cols());
    let rule = TermRule {
        margin: o.margin,
        soft_margin: o.soft_margin,
        swap: o.swap,
        metric: o.distance.metric,
    };
    let mut grad = GradSum::zeros(3 * rows, cols);
    let sums = grad.add_terms(
        rows,
        true,
        |i| [i, rows + i, 2 * rows + i],
        |i, grads| {
            let r = [0, 1, 2].map(|s| &sides[s][i * cols..(i + 1) * cols]);
            let term = rule.eval(r[0], r[1], r[2]);
            rule.backward(&term, 1.0, r, grads);
            TermOut {
                loss: term.loss,
                has_grad: term.loss > 0.0 || o.soft_margin,
            }
        },
        call,
    )?;
    let scale = o.reduction.scale(sums.count, sums.active).unwrap_or(0.0);
    grad.scale(scale);
    let mut parts = grad.grad.chunks_mut((rows * cols).max(1));
    let mut side_grad = |m: MatRef| -> Vec<f32> {
        let g = parts.next().unwrap_or_default();
        if o.distance.normalize {
            pair::normalize_backward(m.data(), cols, g);
        }
        g.iter().map(|&v| pair::grad_to_f32(v)).collect()
    };
    let (grad_anchor, grad_positive, grad_negative) =
        (side_grad(anchor), side_grad(positive), side_grad(negative));
    Ok(MarginLossResult {
        loss: sums.sum * scale,
        losses: sums.losses.iter().map(|&l| l as f32).collect(),
        grad_anchor,
        grad_positive,
        grad_negative,
    })
}

/// Checks the arguments of `triplet_margin_loss` and returns the three sides as the loss reads
/// them (unit rows with `normalize`), for every device. The three inputs are then one
/// 3·rows × cols matrix: triplet i touches rows i, rows + i and 2·rows + i, and the gradient
/// comes out stacked the same way.
pub fn inputs<'a>(
    anchor: MatRef<'a>,
    positive: MatRef<'a>,
    negative: MatRef<'a>,
    o: &MarginLossOptions,
) -> Result<[Cow<'a, [f32]>; 3], Error> {
    rules::same_shape("positive", positive, "anchor", anchor)?;
    rules::same_shape("negative", negative, "anchor", anchor)?;
    rules::margin("margin", o.margin)?;
    o.reduction.check(
        "reduction",
        &[Reduction::Mean, Reduction::Sum, Reduction::None],
    )?;
    let cols = anchor.cols();
    Ok([anchor, positive, negative].map(|m| {
        if o.distance.normalize {
            Cow::Owned(pair::normalize_rows(m.data(), cols))
        } else {
            Cow::Borrowed(m.data())
        }
    }))
}
