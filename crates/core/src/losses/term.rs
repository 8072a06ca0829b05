//! The loss of one triplet and its backward pass, shared by `triplet_loss` and
//! `triplet_margin_loss`.

use crate::distances::pair::{self, PairGrad};
use crate::Metric;

/// How one triplet's loss is formed.
#[derive(Clone, Copy, Debug)]
pub struct TermRule {
    pub margin: f64,
    pub soft_margin: bool,
    pub swap: bool,
    pub metric: Metric,
}

/// One evaluated triplet, with what its backward pass needs.
#[derive(Clone, Copy, Debug)]
pub struct Term {
    pub loss: f64,
    /// d(a, p) − d(·, n): the softplus argument, and the hinge's before the margin.
    z: f64,
    dap: f64,
    dn: f64,
    /// With `swap`, whether d(p, n) replaced d(a, n).
    swapped: bool,
}

/// softplus(x) = log(1 + eˣ), without overflow for large x nor lost digits for small.
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl TermRule {
    pub fn eval(&self, a: &[f32], p: &[f32], n: &[f32]) -> Term {
        let dap = pair::distance(a, p, self.metric);
        let dan = pair::distance(a, n, self.metric);
        let (dn, swapped) = if self.swap {
            let dpn = pair::distance(p, n, self.metric);
            if dpn < dan {
                (dpn, true)
            } else {
                (dan, false)
            }
        } else {
            (dan, false)
        };
        let z = dap - dn;
        let loss = if self.soft_margin {
            softplus(z)
        } else {
            (z + self.margin).max(0.0)
        };
        Term {
            loss,
            z,
            dap,
            dn,
            swapped,
        }
    }

    /// Whether a term writes a gradient: a hinge at or below its kink writes none.
    pub fn has_grad(&self, t: &Term) -> bool {
        t.loss > 0.0 || self.soft_margin
    }

    /// Adds `coef · ∂loss/∂(a, p, n)` into the three gradient rows.
    pub fn backward(&self, t: &Term, coef: f64, rows: [&[f32]; 3], grads: [&mut [f64]; 3]) {
        let [ga, gp, gn] = grads;
        for (x, y, g) in self.pairs(t, coef, rows) {
            match (x, y) {
                (0, 1) => g.add(rows[0], rows[1], ga, gp),
                (0, 2) => g.add(rows[0], rows[2], ga, gn),
                _ => g.add(rows[1], rows[2], gp, gn),
            }
        }
    }

    /// `backward` with coefficient 1 into three zeroed rows, which are then added into the
    /// rows `at` of `grad` (`cols` wide), a, p and n in turn: the bits of a term summed through
    /// `GradSum::add_terms`' slots, with no slots (`add_into_rows`).
    pub fn backward_into(&self, t: &Term, rows: [&[f32]; 3], at: [usize; 3], grad: &mut [f64]) {
        let pairs = self.pairs(t, 1.0, rows);
        if pairs.iter().any(|&(_, _, g)| !matches!(g, PairGrad::Zero)) {
            add_into_rows(pairs, rows, at, grad);
        }
    }

    /// The two distances' gradients, as (row, row, factors): d(a, p), then d(a, n), or
    /// d(p, n) where `swap` chose it.
    pub(crate) fn pairs(
        &self,
        t: &Term,
        coef: f64,
        rows: [&[f32]; 3],
    ) -> [(usize, usize, PairGrad); 2] {
        let slope = if self.soft_margin {
            sigmoid(t.z)
        } else if t.loss > 0.0 {
            1.0
        } else {
            0.0
        };
        let s = coef * slope;
        let [a, p, n] = rows;
        let (x, y) = if t.swapped { (1, 2) } else { (0, 2) };
        [
            (0, 1, PairGrad::new(a, p, self.metric, t.dap, s)),
            (x, y, PairGrad::new(rows[x], n, self.metric, t.dn, -s)),
        ]
    }
}

crate::runtime::simd::widest! {
    /// `TermRule::backward_into`'s columns: each column's slots summed in registers, in the
    /// slots' order, then added into the rows a, p, n in turn (so rows that coincide sum as
    /// the slots would). Both pairs are of the metric's kind; a pair with no gradient becomes
    /// that kind's zero, whose ±0 parts change no bits.
    fn add_into_rows(
        pairs: [(usize, usize, PairGrad); 2],
        rows: [&[f32]; 3],
        at: [usize; 3],
        grad: &mut [f64],
    ) -> () {
        let [(_, _, first), (x, _, second)] = pairs;
        let swap = x == 1;
        let (first, second) = (first.or_zero_like(second), second.or_zero_like(first));
        match (first, second) {
            (PairGrad::Difference(s1), PairGrad::Difference(s2)) => columns(
                swap,
                |x, y| pair::difference(s1, x, y),
                |x, y| pair::difference(s2, x, y),
                rows,
                at,
                grad,
            ),
            (PairGrad::Dot(c1), PairGrad::Dot(c2)) => columns(
                swap,
                |x, y| pair::dot_product(c1, x, y),
                |x, y| pair::dot_product(c2, x, y),
                rows,
                at,
                grad,
            ),
            _ => columns(swap, |x, y| first.parts(x, y), |x, y| second.parts(x, y), rows, at, grad),
        }
    }
}

/// `add_into_rows` for two pairs' column parts `f1` (a, p) and `f2` (a, n; with `swap`, p, n),
/// into the gradient rows `at`.
#[inline(always)]
fn columns(
    swap: bool,
    f1: impl Fn(f64, f64) -> (f64, f64),
    f2: impl Fn(f64, f64) -> (f64, f64),
    [a, p, n]: [&[f32]; 3],
    at: [usize; 3],
    grad: &mut [f64],
) {
    let cols = a.len();
    let (p, n) = (&p[..cols], &n[..cols]);
    let [ra, rp, rn] = at.map(|r| r * cols);
    assert!([ra, rp, rn].iter().all(|&r| r + cols <= grad.len()));
    if swap {
        for t in 0..cols {
            let (x, y, z) = (a[t] as f64, p[t] as f64, n[t] as f64);
            let (a1, p1) = f1(x, y);
            let (p2, n2) = f2(y, z);
            grad[ra + t] += 0.0 + a1;
            grad[rp + t] += (0.0 + p1) + p2;
            grad[rn + t] += 0.0 + n2;
        }
    } else {
        for t in 0..cols {
            let (x, y, z) = (a[t] as f64, p[t] as f64, n[t] as f64);
            let (a1, p1) = f1(x, y);
            let (a2, n2) = f2(x, z);
            grad[ra + t] += (0.0 + a1) + a2;
            grad[rp + t] += 0.0 + p1;
            grad[rn + t] += 0.0 + n2;
        }
    }
}
