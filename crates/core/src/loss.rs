//! Triplet loss over mined (or given) triplets, with its gradient in closed form.
use crate::grad::{GradSum, TermOut};
use crate::pair;
use crate::term::TermRule;
use crate::{
    mine_triplets, rules, Call, Error, LossOptions, MatRef, MineOptions, Reduction, Strategy,
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
pub fn triplet_loss(
    x: MatRef,
    labels: &[i32],
    mining: Mining,
    o: &LossOptions,
    call: &Call,
) -> Result<LossResult, Error> {
    rules::labels("labels", labels, x.rows())?;
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
            };
            mined = mine_triplets(x, labels, &mine, call)?;
            (&mined.anchor[..], &mined.positive[..], &mined.negative[..])
        }
        Mining::Triplets {
            anchor,
            positive,
            negative,
        } => {
            rules::triplets(anchor, positive, negative, labels)?;
            (anchor, positive, negative)
        }
    };

    let cols = x.cols();
    let data: Cow<[f32]> = if o.distance.normalize {
        Cow::Owned(pair::normalize_rows(x.data(), cols))
    } else {
        Cow::Borrowed(x.data())
    };
    let row = |i: usize| &data[i * cols..(i + 1) * cols];
    let rule = TermRule {
        margin: o.margin,
        soft_margin: o.soft_margin,
        swap: o.swap,
        metric: o.distance.metric,
    };
    let rows_of = |t: usize| [anchor[t], positive[t], negative[t]].map(|i| i as usize);
    let mut grad = GradSum::zeros(x.rows(), cols);
    let sums = grad.add_terms(
        anchor.len(),
        false,
        rows_of,
        |t, grads| {
            let rows = rows_of(t).map(row);
            let term = rule.eval(rows[0], rows[1], rows[2]);
            rule.backward(&term, 1.0, rows, grads);
            TermOut {
                loss: term.loss,
                has_grad: term.loss > 0.0 || o.soft_margin,
            }
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
    grad.scale(scale);
    if o.distance.normalize {
        pair::normalize_backward(x.data(), cols, &mut grad.grad);
    }
    Ok(LossResult {
        loss: sums.sum * scale,
        grad: grad.grad.into_iter().map(pair::grad_to_f32).collect(),
        triplets: sums.count,
        active: sums.active,
    })
}
