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

crate::runtime::simd::widest! {
    /// Adds `coef · ∂d(a,b)/∂a` to `ga` and `coef · ∂d(a,b)/∂b` to `gb`, where `d` is
    /// `distance(a, b, metric)`. Where the distance is not differentiable (euclidean at 0, cosine
    /// with a zero vector) the gradient is taken as 0, so it is finite everywhere.
    pub fn add_grad(
        a: &[f32],
        b: &[f32],
        metric: Metric,
        d: f64,
        coef: f64,
        ga: &mut [f64],
        gb: &mut [f64],
    ) -> () {
        if coef == 0.0 {
            return;
        }
        match metric {
            Metric::SqEuclidean | Metric::Euclidean => {
                let s = if metric == Metric::SqEuclidean {
                    2.0 * coef
                } else if d > 0.0 {
                    coef / d
                } else {
                    return;
                };
                for t in 0..a.len() {
                    let g = s * (a[t] as f64 - b[t] as f64);
                    ga[t] += g;
                    gb[t] -= g;
                }
            }
            Metric::Dot => {
                for t in 0..a.len() {
                    ga[t] -= coef * b[t] as f64;
                    gb[t] -= coef * a[t] as f64;
                }
            }
            Metric::Cosine => {
                let (na, nb) = (sq_norm(a).sqrt(), sq_norm(b).sqrt());
                if na == 0.0 || nb == 0.0 {
                    return;
                }
                // d = 1 − cos, cos = a·b/(|a||b|):  ∂d/∂a = −(b/(|a||b|) − cos·a/|a|²)
                let cos = dot(a, b) / (na * nb);
                let inv = 1.0 / (na * nb);
                for t in 0..a.len() {
                    let (x, y) = (a[t] as f64, b[t] as f64);
                    ga[t] -= coef * (y * inv - cos * x / (na * na));
                    gb[t] -= coef * (x * inv - cos * y / (nb * nb));
                }
            }
        }
    }
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
