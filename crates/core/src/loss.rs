//! Triplet loss over mined (or given) triplets, with its gradient in closed form.
use crate::pair;
use crate::term::{add_into, TermRule};
use crate::{mine_triplets, Error, MatRef, Metric, Stop, Strategy};
use rayon::prelude::*;
use std::borrow::Cow;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
    /// Mean over the triplets whose loss is > 0.
    MeanActive,
}

impl FromStr for Reduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            "mean-active" => Reduction::MeanActive,
            _ => return Err(Error::Invalid(format!("unknown reduction '{s}'"))),
        })
    }
}

/// Where the triplets come from.
#[derive(Clone, Copy, Debug)]
pub enum Mining<'a> {
    Strategy(Strategy),
    /// Exactly these triplets (indices checked by the caller to be in range).
    Triplets {
        anchor: &'a [i32],
        positive: &'a [i32],
        negative: &'a [i32],
    },
}

#[derive(Clone, Copy, Debug)]
pub struct LossOptions {
    pub margin: f64,
    pub soft_margin: bool,
    pub swap: bool,
    pub reduction: Reduction,
    pub metric: Metric,
    pub normalize: bool,
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
    opts: LossOptions,
    max_triplets: usize,
    stop: Stop,
) -> Result<LossResult, Error> {
    let mined;
    let (anchor, positive, negative) = match mining {
        Mining::Strategy(strategy) => {
            mined = mine_triplets(
                x,
                labels,
                strategy,
                opts.margin as f32,
                opts.metric,
                opts.normalize,
                max_triplets,
                stop,
            )?;
            (&mined.anchor[..], &mined.positive[..], &mined.negative[..])
        }
        Mining::Triplets {
            anchor,
            positive,
            negative,
        } => (anchor, positive, negative),
    };
    let count = anchor.len();
    if positive.len() != count || negative.len() != count {
        return Err(Error::Invalid(
            "triplets: anchor, positive and negative must have the same length".into(),
        ));
    }
    let in_range = |v: &[i32]| v.iter().all(|&i| i >= 0 && (i as usize) < x.rows);
    if !(in_range(anchor) && in_range(positive) && in_range(negative)) {
        return Err(Error::Invalid(format!(
            "triplets: indices must lie in [0, {})",
            x.rows
        )));
    }

    let cols = x.cols;
    let data: Cow<[f32]> = if opts.normalize {
        Cow::Owned(pair::normalize_rows(x.data, cols))
    } else {
        Cow::Borrowed(x.data)
    };
    let row = |i: i32| &data[i as usize * cols..(i as usize + 1) * cols];
    let rule = TermRule {
        margin: opts.margin,
        soft_margin: opts.soft_margin,
        swap: opts.swap,
        metric: opts.metric,
    };

    // Triplets go in chunks: each chunk's losses and per-triplet gradient rows are computed in
    // parallel into one buffer, then summed into the gradient in triplet order, so the result
    // does not depend on the thread count and memory stays O(chunk) however many triplets.
    // Gradients are accumulated unscaled and divided once at the end, when the divisor of
    // 'mean-active' is known.
    let width = 3 * cols.max(1);
    let chunk = ((1 << 19) / width).max(1);
    let mut buf = vec![0.0f64; chunk.min(count) * width];
    let mut grad = vec![0.0f64; x.rows * cols];
    let (mut sum, mut active) = (0.0f64, 0usize);
    for start in (0..count).step_by(chunk) {
        stop.check()?;
        let end = count.min(start + chunk);
        let part = &mut buf[..(end - start) * width];
        let losses: Vec<f64> = part
            .par_chunks_mut(width)
            .enumerate()
            .map(|(i, g)| {
                let t = start + i;
                let rows = [anchor[t], positive[t], negative[t]].map(row);
                let term = rule.eval(rows[0], rows[1], rows[2]);
                g.fill(0.0);
                let (ga, rest) = g.split_at_mut(cols);
                let (gp, gn) = rest.split_at_mut(cols);
                rule.backward(&term, 1.0, rows, [ga, gp, gn]);
                term.loss
            })
            .collect();
        for (i, &loss) in losses.iter().enumerate() {
            sum += loss;
            active += usize::from(loss > 0.0);
            if loss == 0.0 && !opts.soft_margin {
                continue; // no gradient at or below the hinge
            }
            let t = start + i;
            let g = &part[i * width..(i + 1) * width];
            for (r, gr) in [anchor[t], positive[t], negative[t]]
                .iter()
                .zip(g.chunks(cols))
            {
                add_into(&mut grad[*r as usize * cols..(*r as usize + 1) * cols], gr);
            }
        }
    }
    let divisor = match opts.reduction {
        Reduction::Mean => count,
        Reduction::Sum => 1,
        Reduction::MeanActive => active,
    };
    if divisor == 0 {
        return Ok(LossResult {
            loss: 0.0,
            grad: vec![0.0; x.rows * cols],
            triplets: count,
            active,
        });
    }
    let coef = 1.0 / divisor as f64;
    grad.iter_mut().for_each(|g| *g *= coef);
    if opts.normalize {
        pair::normalize_backward(x.data, cols, &mut grad);
    }
    Ok(LossResult {
        loss: sum * coef,
        grad: grad.into_iter().map(pair::grad_to_f32).collect(),
        triplets: count,
        active,
    })
}
