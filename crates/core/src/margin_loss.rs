//! Triplet margin loss over row-aligned anchor / positive / negative matrices.
use crate::pair;
use crate::term::TermRule;
use crate::{Error, MatRef, Metric, Stop};
use rayon::prelude::*;
use std::borrow::Cow;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarginReduction {
    Mean,
    Sum,
    /// Every triplet's own loss; `loss` is then their sum and the gradient that of the sum.
    None,
}

impl FromStr for MarginReduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "mean" => MarginReduction::Mean,
            "sum" => MarginReduction::Sum,
            "none" => MarginReduction::None,
            _ => return Err(Error::Invalid(format!("unknown reduction '{s}'"))),
        })
    }
}

#[derive(Debug, Clone)]
pub struct MarginLossResult {
    pub loss: f64,
    pub losses: Vec<f32>,
    pub grad_anchor: Vec<f32>,
    pub grad_positive: Vec<f32>,
    pub grad_negative: Vec<f32>,
}

/// Row i of `anchor`, `positive` and `negative` is one triplet (as PyTorch's
/// `TripletMarginLoss`). The callers guarantee the three share one shape.
#[allow(clippy::too_many_arguments)]
pub fn triplet_margin_loss<'a>(
    anchor: MatRef<'a>,
    positive: MatRef<'a>,
    negative: MatRef<'a>,
    margin: f64,
    soft_margin: bool,
    swap: bool,
    reduction: MarginReduction,
    metric: Metric,
    normalize: bool,
    stop: Stop,
) -> Result<MarginLossResult, Error> {
    let (rows, cols) = (anchor.rows, anchor.cols);
    assert!(
        positive.rows == rows
            && negative.rows == rows
            && positive.cols == cols
            && negative.cols == cols,
        "triplet_margin_loss: shapes differ"
    );
    let prep = |m: MatRef<'a>| -> Cow<'a, [f32]> {
        if normalize {
            Cow::Owned(pair::normalize_rows(m.data, cols))
        } else {
            Cow::Borrowed(m.data)
        }
    };
    let sides = [prep(anchor), prep(positive), prep(negative)];
    let rule = TermRule {
        margin,
        soft_margin,
        swap,
        metric,
    };
    let coef = match reduction {
        MarginReduction::Mean if rows > 0 => 1.0 / rows as f64,
        MarginReduction::Mean => 0.0,
        MarginReduction::Sum | MarginReduction::None => 1.0,
    };

    // Rows are independent triplets: each computes its loss and its three gradient rows in
    // parallel, side by side in one buffer.
    let width = 3 * cols.max(1);
    let mut g = vec![0.0f64; rows * width];
    // Once `stop` is raised, the rows left are skipped (their loss reads 0) and the call
    // ends in `Err(Cancelled)`.
    let all: Vec<f64> = g
        .par_chunks_mut(width)
        .enumerate()
        .map(|(i, g)| {
            if stop.requested() {
                return 0.0;
            }
            let r = [0, 1, 2].map(|s| &sides[s][i * cols..(i + 1) * cols]);
            let term = rule.eval(r[0], r[1], r[2]);
            let (ga, rest) = g.split_at_mut(cols);
            let (gp, gn) = rest.split_at_mut(cols);
            rule.backward(&term, coef, r, [ga, gp, gn]);
            term.loss
        })
        .collect();
    stop.check()?;
    let sum: f64 = all.iter().sum();
    let mut grads: [Vec<f64>; 3] = [0, 1, 2].map(|s| {
        g.chunks(width)
            .flat_map(|row| &row[s * cols..(s + 1) * cols])
            .copied()
            .collect()
    });
    if normalize {
        for (g, m) in grads.iter_mut().zip([anchor, positive, negative]) {
            pair::normalize_backward(m.data, cols, g);
        }
    }
    let [ga, gp, gn] = grads.map(|g| g.into_iter().map(pair::grad_to_f32).collect::<Vec<f32>>());
    let losses = all.iter().map(|&l| l as f32).collect();
    Ok(MarginLossResult {
        loss: sum * coef,
        losses,
        grad_anchor: ga,
        grad_positive: gp,
        grad_negative: gn,
    })
}
