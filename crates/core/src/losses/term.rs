//! The loss of one triplet and its backward pass, shared by `triplet_loss` and
//! `triplet_margin_loss`.

use crate::distances::pair;
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

    /// Adds `coef · ∂loss/∂(a, p, n)` into the three gradient rows.
    pub fn backward(&self, t: &Term, coef: f64, rows: [&[f32]; 3], grads: [&mut [f64]; 3]) {
        let slope = if self.soft_margin {
            sigmoid(t.z)
        } else if t.loss > 0.0 {
            1.0
        } else {
            0.0
        };
        let s = coef * slope;
        if s == 0.0 {
            return;
        }
        let [a, p, n] = rows;
        let [ga, gp, gn] = grads;
        pair::add_grad(a, p, self.metric, t.dap, s, ga, gp);
        if t.swapped {
            pair::add_grad(p, n, self.metric, t.dn, -s, gp, gn);
        } else {
            pair::add_grad(a, n, self.metric, t.dn, -s, ga, gn);
        }
    }
}
