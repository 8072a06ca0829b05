//! Triplet loss over mined (or given) triplets, with its gradient in closed form.
use crate::distances::pair;
use crate::losses::grad::GradSum;
use crate::losses::term::TermRule;
use crate::{
    mine_triplets, rules, Call, Device, Error, LossOptions, MatRef, MineOptions, Reduction,
    Strategy,
};
use std::borrow::Cow;

/// Where the triplets come from.
#[derive(Clone, Copy, Debug)]
pub enum Mining<'a> {
    Strategy(Strategy),
    /// Exactly these triplets; each must be valid for the labels (checked).
    Triplets {
        anchor: &'a [i32],
        positive: &'a [i32],
        negative: &'a [i32],
    },
}

#[derive(Debug, Clone)]
pub struct LossResult {
    pub loss: f64,
    /// dLoss/dEmbeddings, same shape as the embeddings.
    pub grad: Vec<f32>,
    pub triplets: usize,
    pub active: usize,
}

/// Mines (or takes) triplets, then reduces their losses and back-propagates in closed form:
/// each triplet adds its coefficient times ∂d/∂x to the rows it touches, O(triplets · cols).
/// With `reference` (cross-batch memory), positives and negatives are rows of the reference
/// and the gradient is with respect to `x` only. The mining runs on `dev`; the terms,
/// O(triplets · cols), are summed on the host.
pub fn triplet_loss(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    mining: Mining,
    o: &LossOptions,
    call: &Call,
) -> Result<LossResult, Error> {
    rules::labels("labels", labels, x.rows())?;
    rules::reference(x, reference)?;
    rules::margin("margin", o.margin)?;
    o.reduction.check(
        "reduction",
        &[Reduction::Mean, Reduction::Sum, Reduction::MeanActive],
    )?;
    let mined;
    let (anchor, positive, negative) = match mining {
        Mining::Strategy(strategy) => {
            let mine = MineOptions {
                strategy,
                margin: o.margin,
                distance: o.distance,
                max_triplets: o.max_triplets,
                sample: o.sample,
            };
            mined = mine_triplets(dev, x, labels, reference, &mine, call)?;
            (&mined.anchor[..], &mined.positive[..], &mined.negative[..])
        }
        Mining::Triplets {
            anchor,
            positive,
            negative,
        } => {
            if o.sample.is_some() {
                return Err(Error::invalid(
                    "sample",
                    "expected a set strategy ('all', 'violating', 'hard', 'semihard' or 'easy') to sample, received given triplets",
                ));
            }
            rules::triplets(anchor, positive, negative, labels, reference.map(|r| r.1))?;
            (anchor, positive, negative)
        }
    };

    let cols = x.cols();
    // The rows of x, then (cross-batch memory) the reference's: p and n index past x's rows.
    let stacked: Cow<[f32]> = match reference {
        Some((r, _)) => Cow::Owned([x.data(), r.data()].concat()),
        None => Cow::Borrowed(x.data()),
    };
    let data: Cow<[f32]> = if o.distance.normalize {
        Cow::Owned(pair::normalize_rows(&stacked, cols))
    } else {
        stacked
    };
    let offset = if reference.is_some() { x.rows() } else { 0 };
    let row = |i: usize| &data[i * cols..(i + 1) * cols];
    let rule = TermRule {
        margin: o.margin,
        soft_margin: o.soft_margin,
        swap: o.swap,
        metric: o.distance.metric,
    };
    let rows_of = |t: usize| {
        let [a, p, n] = [anchor[t], positive[t], negative[t]].map(|i| i as usize);
        [a, offset + p, offset + n]
    };
    let all_rows = offset + reference.map_or(x.rows(), |r| r.0.rows());
    let mut grad = GradSum::zeros(all_rows, cols);
    let sums = grad.add_triplets(
        anchor.len(),
        false,
        &rule,
        |t| {
            let at = rows_of(t);
            (at.map(row), at)
        },
        call,
    )?;
    let Some(scale) = o.reduction.scale(sums.count, sums.active) else {
        return Ok(LossResult {
            loss: 0.0,
            grad: vec![0.0; x.rows() * cols],
            triplets: sums.count,
            active: sums.active,
        });
    };
    // The reference is memory, not a parameter: its rows' gradient is dropped.
    grad.grad.truncate(x.rows() * cols);
    let rounded = if o.distance.normalize {
        grad.scale(scale);
        pair::normalize_backward(x.data(), cols, &mut grad.grad);
        pair::grads_to_f32(&grad.grad)
    } else {
        pair::scaled_grads_to_f32(&grad.grad, scale)
    };
    Ok(LossResult {
        loss: sums.sum * scale,
        grad: rounded,
        triplets: sums.count,
        active: sums.active,
    })
}
