//! Triplet margin loss over row-aligned anchor / positive / negative matrices.
use crate::device::Terms;
use crate::distances::pair;
use crate::losses::grad::GradSum;
use crate::losses::term::TermRule;
use crate::{rules, Call, Device, Error, MarginLossOptions, MatRef, Reduction};
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
/// `TripletMarginLoss`); the three must share one shape. The terms run on `dev`.
pub fn triplet_margin_loss(
    dev: &dyn Device,
    anchor: MatRef,
    positive: MatRef,
    negative: MatRef,
    o: &MarginLossOptions,
    call: &Call,
) -> Result<MarginLossResult, Error> {
    let sides = inputs(anchor, positive, negative, o)?;
    let rule = TermRule {
        margin: o.margin,
        soft_margin: o.soft_margin,
        swap: o.swap,
        metric: o.distance.metric,
    };
    let mut t = dev.margin_terms(
        [&sides[0], &sides[1], &sides[2]],
        anchor.rows(),
        anchor.cols(),
        &rule,
        call,
    )?;
    Ok(finish(
        [anchor, positive, negative],
        o,
        &mut t.grad,
        t.sum,
        t.active,
        &t.losses,
    ))
}

/// The cpu device's `margin_terms`: the terms in parallel, summed in row order (`GradSum`).
/// The sides' values must be finite, as `MatRef` checks them (`GradSum::add_triplets`).
pub fn cpu_terms(
    sides: [&[f32]; 3],
    rows: usize,
    cols: usize,
    rule: &TermRule,
    call: &Call,
) -> Result<Terms, Error> {
    let mut grad = GradSum::zeros(3 * rows, cols);
    let sums = grad.add_triplets(
        rows,
        true,
        rule,
        |i| {
            let r = [0, 1, 2].map(|s| &sides[s][i * cols..(i + 1) * cols]);
            (r, [i, rows + i, 2 * rows + i])
        },
        call,
    )?;
    Ok(Terms {
        sum: sums.sum,
        active: sums.active,
        losses: sums.losses,
        grad: grad.grad,
    })
}

/// The result from the summed terms, for every device: the reduction's scale applied to the
/// loss and to `grad` (the three sides' gradients, one after another), each side's gradient
/// taken through the normalisation when asked, and rounded to f32.
pub fn finish(
    sides: [MatRef; 3],
    o: &MarginLossOptions,
    grad: &mut [f64],
    sum: f64,
    active: usize,
    losses: &[f64],
) -> MarginLossResult {
    let (rows, cols) = (sides[0].rows(), sides[0].cols());
    let scale = o.reduction.scale(rows, active).unwrap_or(0.0);
    crate::losses::grad::scale(grad, scale);
    let mut parts = grad.chunks_mut((rows * cols).max(1));
    let [grad_anchor, grad_positive, grad_negative] = sides.map(|m| {
        let g = parts.next().unwrap_or_default();
        if o.distance.normalize {
            pair::normalize_backward(m.data(), cols, g);
        }
        pair::grads_to_f32(g)
    });
    MarginLossResult {
        loss: sum * scale,
        losses: losses.iter().map(|&l| l as f32).collect(),
        grad_anchor,
        grad_positive,
        grad_negative,
    }
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
