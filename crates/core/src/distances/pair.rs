//! One distance between two rows, computed directly in f64, and its gradient.
//! The losses use these (exact for every pair they touch); the GEMM tiles use them to
//! recompute entries that cancellation made inaccurate.

use crate::Metric;

/// Σ f(aᵢ, bᵢ) in f64 over eight interleaved partial sums: a single running sum is one long
/// chain of dependent additions, which the compiler may not reorder or vectorise.
#[inline(always)]
fn sum_pairs(a: &[f32], b: &[f32], f: impl Fn(f64, f64) -> f64) -> f64 {
    const LANES: usize = 8;
    let mut acc = [0.0f64; LANES];
    let (a8, b8) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for l in 0..LANES {
            acc[l] += f(x[l] as f64, y[l] as f64);
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(&x, &y)| f(x as f64, y as f64))
        .sum();
    acc.iter().sum::<f64>() + tail
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f64 {
    sum_pairs(a, b, |x, y| x * y)
}

#[inline(always)]
pub fn sq_norm(a: &[f32]) -> f64 {
    dot(a, a)
}

#[inline(always)]
pub fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    sum_pairs(a, b, |x, y| (x - y) * (x - y))
}

crate::runtime::simd::widest! {
    /// d(a, b) for `metric`, as API.md defines it (cosine is 1 when either vector is zero).
    pub fn distance(a: &[f32], b: &[f32], metric: Metric) -> f64 {
        match metric {
            Metric::SqEuclidean => sq_dist(a, b),
            Metric::Euclidean => sq_dist(a, b).sqrt(),
            Metric::Dot => -dot(a, b),
            Metric::Cosine => {
                let (na2, nb2) = (sq_norm(a), sq_norm(b));
                if na2 == 0.0 || nb2 == 0.0 {
                    1.0
                } else {
                    // One square root of the product: a row and its duplicate are then exactly 0
                    // apart, as in the reference.
                    (1.0 - dot(a, b) / (na2 * nb2).sqrt()).clamp(0.0, 2.0)
                }
            }
        }
    }
}

/// The gradient of one distance d(a, b) (`distance(a, b, metric)`) times a coefficient, in two
/// steps: its factors, computed once from the whole rows (`new`), then what each column adds
/// to the two rows' gradients (`add`, `parts`), so that a caller may apply it a few columns at
/// a time with the same bits. Where the distance is not differentiable (euclidean at 0, cosine
/// with a zero vector) the gradient is taken as 0, so it is finite everywhere.
#[derive(Clone, Copy, Debug)]
pub enum PairGrad {
    /// No gradient (a zero coefficient, or a point where the distance is not differentiable).
    Zero,
    /// ga += s·(a − b), gb −= s·(a − b): the euclidean metrics.
    Difference(f64),
    /// ga −= coef·b, gb −= coef·a.
    Dot(f64),
    /// ga −= coef·(b·inv − cos·a/‖a‖²), gb −= coef·(a·inv − cos·b/‖b‖²).
    Cosine {
        coef: f64,
        cos: f64,
        inv: f64,
        na: f64,
        nb: f64,
    },
}

impl PairGrad {
    #[inline(always)]
    pub fn new(a: &[f32], b: &[f32], metric: Metric, d: f64, coef: f64) -> Self {
        if coef == 0.0 {
            return PairGrad::Zero;
        }
        match metric {
            Metric::SqEuclidean => PairGrad::Difference(2.0 * coef),
            Metric::Euclidean if d > 0.0 => PairGrad::Difference(coef / d),
            Metric::Euclidean => PairGrad::Zero,
            Metric::Dot => PairGrad::Dot(coef),
            Metric::Cosine => {
                let (na, nb) = (sq_norm(a).sqrt(), sq_norm(b).sqrt());
                if na == 0.0 || nb == 0.0 {
                    return PairGrad::Zero;
                }
                // d = 1 − cos, cos = a·b/(|a||b|):  ∂d/∂a = −(b/(|a||b|) − cos·a/|a|²)
                PairGrad::Cosine {
                    coef,
                    cos: dot(a, b) / (na * nb),
                    inv: 1.0 / (na * nb),
                    na,
                    nb,
                }
            }
        }
    }

    /// Adds the pair's gradient over the columns `a` and `b` hold (any matching range of the
    /// rows the factors came from) into `ga` and `gb`.
    #[inline(always)]
    pub fn add(&self, a: &[f32], b: &[f32], ga: &mut [f64], gb: &mut [f64]) {
        // One loop per kind, so that each is vectorised with its factors in registers.
        match *self {
            PairGrad::Zero => {}
            PairGrad::Difference(s) => each_column(a, b, ga, gb, |x, y| difference(s, x, y)),
            PairGrad::Dot(c) => each_column(a, b, ga, gb, |x, y| dot_product(c, x, y)),
            PairGrad::Cosine { .. } => each_column(a, b, ga, gb, |x, y| self.parts(x, y)),
        }
    }

    /// `self`, or where it is `Zero` the zero of `like`'s kind: its parts are ±0, which added
    /// to a slot change no bits (a slot is never −0 once it has had one addition).
    #[inline(always)]
    pub fn or_zero_like(self, like: PairGrad) -> PairGrad {
        match (self, like) {
            (PairGrad::Zero, PairGrad::Dot(_)) => PairGrad::Dot(0.0),
            (PairGrad::Zero, PairGrad::Cosine { .. }) => PairGrad::Cosine {
                coef: 0.0,
                cos: 0.0,
                inv: 0.0,
                na: 1.0,
                nb: 1.0,
            },
            (PairGrad::Zero, _) => PairGrad::Difference(0.0),
            (g, _) => g,
        }
    }

    /// What one column (a's value x, b's value y) adds to a's gradient and to b's. (A
    /// subtraction is the addition of the negated value, bit for bit.)
    #[inline(always)]
    pub fn parts(&self, x: f64, y: f64) -> (f64, f64) {
        match *self {
            PairGrad::Zero => (0.0, 0.0),
            PairGrad::Difference(s) => difference(s, x, y),
            PairGrad::Dot(c) => dot_product(c, x, y),
            PairGrad::Cosine {
                coef,
                cos,
                inv,
                na,
                nb,
            } => (
                -(coef * (y * inv - cos * x / (na * na))),
                -(coef * (x * inv - cos * y / (nb * nb))),
            ),
        }
    }
}

/// ga += f(a, b).0 and gb += f(a, b).1, column by column.
#[inline(always)]
fn each_column(
    a: &[f32],
    b: &[f32],
    ga: &mut [f64],
    gb: &mut [f64],
    f: impl Fn(f64, f64) -> (f64, f64),
) {
    let n = a.len();
    let (b, ga, gb) = (&b[..n], &mut ga[..n], &mut gb[..n]);
    for t in 0..n {
        let (da, db) = f(a[t] as f64, b[t] as f64);
        ga[t] += da;
        gb[t] += db;
    }
}

#[inline(always)]
pub(crate) fn difference(s: f64, x: f64, y: f64) -> (f64, f64) {
    let g = s * (x - y);
    (g, -g)
}

#[inline(always)]
pub(crate) fn dot_product(c: f64, x: f64, y: f64) -> (f64, f64) {
    (-(c * y), -(c * x))
}

/// A float64 gradient rounded to f32, saturating at ±f32::MAX: 1/‖x‖ for a subnormal row is
/// finite in f64 but past f32's range, and gradients must stay finite.
#[inline(always)]
pub fn grad_to_f32(g: f64) -> f32 {
    g.clamp(-f32::MAX as f64, f32::MAX as f64) as f32
}

crate::runtime::simd::widest! {
    /// `grad_to_f32` of every element.
    pub fn grads_to_f32(g: &[f64]) -> Vec<f32> {
        g.iter().map(|&v| grad_to_f32(v)).collect()
    }
}

crate::runtime::simd::widest! {
    /// `grads_to_f32` of every element times `s`: the bits of scaling, then rounding.
    pub fn scaled_grads_to_f32(g: &[f64], s: f64) -> Vec<f32> {
        g.iter().map(|&v| grad_to_f32(v * s)).collect()
    }
}

/// Rows divided by their L2 norm; zero rows stay zero.
pub fn normalize_rows(data: &[f32], cols: usize) -> Vec<f32> {
    let mut out = data.to_vec();
    normalize_rows_in_place(&mut out, cols);
    out
}

/// `normalize_rows`, in place.
pub fn normalize_rows_in_place(data: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for row in data.chunks_mut(cols) {
        let n = sq_norm(row).sqrt();
        if n > 0.0 {
            for v in row.iter_mut() {
                *v = (*v as f64 / n) as f32;
            }
        }
    }
}

/// Turns gradients with respect to normalised rows y = x/‖x‖ into gradients with respect to
/// x, in place: dL/dx = (g − (g·y) y) / ‖x‖; 0 for a zero row.
pub fn normalize_backward(x: &[f32], cols: usize, grad: &mut [f64]) {
    if cols == 0 {
        return;
    }
    for (row, g) in x.chunks(cols).zip(grad.chunks_mut(cols)) {
        let n = sq_norm(row).sqrt();
        if n == 0.0 {
            g.iter_mut().for_each(|v| *v = 0.0);
            continue;
        }
        let gy: f64 = g.iter().zip(row).map(|(&gv, &xv)| gv * xv as f64 / n).sum();
        for (gv, &xv) in g.iter_mut().zip(row) {
            *gv = (*gv - gy * xv as f64 / n) / n;
        }
    }
}
