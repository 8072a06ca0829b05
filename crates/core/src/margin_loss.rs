//! Triplet margin loss over row-aligned anchor / positive / negative matrices.
use crate::pair;
use crate::term::{add_into, Scratch, Term, TermRule};
use crate::{Error, MatRef, Metric};
use rayon::prelude::*;
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
pub fn triplet_margin_loss(
    anchor: MatRef,
    positive: MatRef,
    negative: MatRef,
    margin: f64,
    soft_margin: bool,
    swap: bool,
    reduction: MarginReduction,
    metric: Metric,
    normalize: bool,
) -> MarginLossResult {
    let (rows, cols) = (anchor.rows, anchor.cols);
    assert!(
        positive.rows == rows
            && negative.rows == rows
            && positive.cols == cols
            && negative.cols == cols,
        "triplet_margin_loss: shapes differ"
    );
    let prep = |m: MatRef| {
        if normalize {
            pair::normalize_rows(m.data, cols)
        } else {
            m.data.to_vec()
        }
    };
    let sides = [prep(anchor), prep(positive), prep(negative)];
    let row = |s: usize, i: usize| &sides[s][i * cols..(i + 1) * cols];
    let rule = TermRule {
        margin,
        soft_margin,
        swap,
        metric,
    };

    let terms: Vec<Term> = (0..rows)
        .into_par_iter()
        .map(|i| rule.eval(row(0, i), row(1, i), row(2, i)))
        .collect();
    let losses: Vec<f32> = terms.iter().map(|t| t.loss as f32).collect();
    let sum: f64 = terms.iter().map(|t| t.loss).sum();
    let coef = match reduction {
        MarginReduction::Mean if rows > 0 => 1.0 / rows as f64,
        MarginReduction::Mean => 0.0,
        MarginReduction::Sum | MarginReduction::None => 1.0,
    };
    let mut grads = [
        vec![0.0f64; rows * cols],
        vec![0.0f64; rows * cols],
        vec![0.0f64; rows * cols],
    ];
    let mut scratch = Scratch::new(cols);
    for (i, term) in terms.iter().enumerate() {
        let g = scratch.backward(&rule, term, coef, [row(0, i), row(1, i), row(2, i)]);
        for (s, gs) in g.iter().enumerate() {
            add_into(&mut grads[s][i * cols..(i + 1) * cols], gs);
        }
    }
    if normalize {
        for (g, m) in grads.iter_mut().zip([anchor, positive, negative]) {
            pair::normalize_backward(m.data, cols, g);
        }
    }
    let [ga, gp, gn] = grads.map(|g| g.into_iter().map(pair::grad_to_f32).collect::<Vec<f32>>());
    MarginLossResult {
        loss: sum * coef,
        losses,
        grad_anchor: ga,
        grad_positive: gp,
        grad_negative: gn,
    }
}
