//! Gradients through a whole distance matrix, by GEMM: the backward pass of
//! `pairwise_distances`, for losses defined on every pair (or on a similarity matrix:
//! similarity = −distance for `dot`, 1 − distance for `cosine`, so ∂L/∂D = −∂L/∂S).
//!
//! With G = ∂L/∂D (rows × cols) and the rows as prepared for the metric:
//! - dot, D = −A·Bᵀ: ∂A = −G·B, ∂B = −Gᵀ·A;
//! - cosine, D = 1 − Â·B̂ᵀ: the same on unit rows, then back through the normalisation;
//! - sqeuclidean, D = ‖a‖² + ‖b‖² − 2A·Bᵀ: ∂aᵢ = 2(Σⱼ Gᵢⱼ) aᵢ − 2(G·B)ᵢ, and alike for B;
//! - euclidean: sqeuclidean's with Gᵢⱼ / (2Dᵢⱼ), and 0 where Dᵢⱼ = 0.
//!
//! Computed in f64. Like every GEMM form of a distance gradient, entries where aᵢ ≈ bⱼ lose
//! digits to cancellation; losses over a few pairs per row use `pair::PairGrad` instead.

use crate::distances::{Exact, Rows};
use crate::{distances::pair, rules, Call, Device, Error, MatRef, Metric, MetricOptions};
use gemm::Parallelism;

/// ∂L/∂a and ∂L/∂b of a distance matrix. In self mode (`b = None`) both sides are `a`, and
/// `a` holds their sum.
#[derive(Debug, Clone)]
pub struct PairwiseGrads {
    pub a: Vec<f64>,
    pub b: Option<Vec<f64>>,
}

/// The coefficient GEMMs of the backward pass through D = D(a, b) of prepared rows (`b = None`:
/// D(a, a)): ∂A = C·B and ∂B = Cᵀ·A, less each row times its row sum of C for the euclidean
/// family; C (`a.rows × b.rows`) from `coefficients`. The gradients are with respect to the
/// prepared rows: `through_rows` takes them back through the normalisation. The cpu device's
/// `backward`.
pub fn prepared_backward(a: &Rows, b: Option<&Rows>, c: &[f64]) -> Result<PairwiseGrads, Error> {
    let (m, n, k) = (a.rows(), b.map_or(a.rows(), |b| b.rows()), a.cols());
    check_shape("g", m, n, c.len())?;
    let prep = |x: &Rows| -> Vec<f64> { x.data().iter().map(|&v| f64::from(v)).collect() };
    let xa = prep(a);
    let xb = b.map(prep);
    let rhs = xb.as_deref().unwrap_or(&xa);
    let squared = matches!(a.options().metric, Metric::Euclidean | Metric::SqEuclidean);
    let mut ga = vec![0.0f64; m * k];
    let mut gb = vec![0.0f64; n * k];
    if k > 0 && m > 0 && n > 0 {
        gemm_into(&mut ga, c, (1, n), rhs, m, n, k);
        gemm_into(&mut gb, c, (n, 1), &xa, n, m, k);
    }
    if squared {
        // ∂aᵢ += −(Σⱼ Cᵢⱼ) aᵢ, ∂bⱼ += −(Σᵢ Cᵢⱼ) bⱼ (C already carries the −2 or −1/D).
        let mut col_sums = vec![0.0f64; n];
        for (i, row) in c.chunks(n.max(1)).enumerate().take(m) {
            let s: f64 = row.iter().sum();
            row.iter().zip(&mut col_sums).for_each(|(v, cs)| *cs += v);
            axpy(&mut ga[i * k..(i + 1) * k], -s, &xa[i * k..(i + 1) * k]);
        }
        for (j, s) in col_sums.into_iter().enumerate() {
            axpy(&mut gb[j * k..(j + 1) * k], -s, &rhs[j * k..(j + 1) * k]);
        }
    }
    Ok(match b {
        None => {
            ga.iter_mut().zip(&gb).for_each(|(x, y)| *x += y);
            PairwiseGrads { a: ga, b: None }
        }
        Some(_) => PairwiseGrads { a: ga, b: Some(gb) },
    })
}

/// `name` holds `m × n` values (`len` of them).
fn check_shape(name: &str, m: usize, n: usize, len: usize) -> Result<(), Error> {
    if len != m * n {
        return Err(Error::invalid(
            name,
            format!("expected {m} × {n} values, received {len}"),
        ));
    }
    Ok(())
}

/// Back-propagates `g` = ∂L/∂D through D = `pairwise_distances(a, b, o)` on `dev`, to the rows
/// as given; `d` is that D. `g` and `d` are `a.rows × b.rows`.
pub fn pairwise_backward(
    dev: &dyn Device,
    a: MatRef,
    b: Option<MatRef>,
    o: &MetricOptions,
    d: &[f32],
    g: &[f64],
    call: &Call,
) -> Result<PairwiseGrads, Error> {
    if let Some(b) = b {
        rules::same_cols("b", b, "a", a)?;
    }
    let (m, n) = (a.rows(), b.map_or(a.rows(), |b| b.rows()));
    check_shape("d", m, n, d.len())?;
    check_shape("g", m, n, g.len())?;
    let (pa, pb) = (Rows::prepare(a, *o), b.map(|b| Rows::prepare(b, *o)));
    let c = coefficients(o.metric, g, &Exact::new(d, &pa, pb.as_ref()));
    through_rows(dev, (a, &pa), b.zip(pb.as_ref()), &c, call)
}

/// The gradient through D(a, b) to the rows as given, from rows already prepared (`(raw,
/// prepared)` for each side) and the coefficients C: the device's coefficient GEMMs on the
/// prepared rows, then the normalisation's backward pass where the rows were made unit.
pub fn through_rows(
    dev: &dyn Device,
    a: (MatRef, &Rows),
    b: Option<(MatRef, &Rows)>,
    c: &[f64],
    call: &Call,
) -> Result<PairwiseGrads, Error> {
    let n = b.map_or(a.1.rows(), |b| b.1.rows());
    check_shape("g", a.1.rows(), n, c.len())?;
    let mut out = dev.backward(a.1, b.map(|b| b.1), c, call)?;
    if a.1.is_unit() {
        let k = a.0.cols();
        pair::normalize_backward(a.0.data(), k, &mut out.a);
        if let (Some((b, _)), Some(gb)) = (b, out.b.as_mut()) {
            pair::normalize_backward(b.data(), k, gb);
        }
    }
    Ok(out)
}

/// The coefficients C of the GEMM form of the backward pass through D, from `g` = ∂L/∂D:
/// −g for dot and cosine, −2g for squared euclidean, −g/D for euclidean (0 where D is 0), D
/// read in float64 (`Exact`).
pub fn coefficients(metric: Metric, g: &[f64], d: &Exact) -> Vec<f64> {
    let n = d.cols().max(1);
    match metric {
        Metric::Dot | Metric::Cosine => g.iter().map(|v| -v).collect(),
        Metric::SqEuclidean => g.iter().map(|v| -2.0 * v).collect(),
        Metric::Euclidean => g
            .iter()
            .enumerate()
            .map(|(k, &gv)| {
                let dv = if gv == 0.0 { 0.0 } else { d.at(k / n, k % n) };
                if dv > 0.0 {
                    -gv / dv
                } else {
                    0.0
                }
            })
            .collect(),
    }
}

/// dst (rows × k) = L · R, with L read as `rows × inner` at strides `(col, row)` and R the
/// row-major `inner × k` matrix `rhs`.
fn gemm_into(
    dst: &mut [f64],
    lhs: &[f64],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[f64],
    rows: usize,
    inner: usize,
    k: usize,
) {
    assert!(dst.len() == rows * k && rhs.len() == inner * k && lhs.len() == rows * inner);
    // SAFETY: `dst` holds rows × k f64 written at row stride k, column stride 1; `lhs` holds
    // rows × inner values, every (i, j) at i·lhs_rs + j·lhs_cs < rows·inner (the strides are
    // (1, inner) or (rows, 1)); `rhs` holds inner × k at row stride k (asserted above). No
    // output aliases an input.
    unsafe {
        gemm::gemm(
            rows,
            k,
            inner,
            dst.as_mut_ptr(),
            1,
            k as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            k as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        );
    }
}

fn axpy(y: &mut [f64], s: f64, x: &[f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += s * x);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::lcg;
    use crate::{pairwise_distances, Call, Cpu};

    /// L = Σ Wᵢⱼ d(aᵢ, bⱼ), computed directly in f64.
    fn loss(a: &[f32], b: Option<&[f32]>, k: usize, w: &[f64], o: &MetricOptions) -> f64 {
        let prep = |x: &[f32]| {
            if o.normalize || o.metric == Metric::Cosine {
                pair::normalize_rows(x, k)
            } else {
                x.to_vec()
            }
        };
        let xa = prep(a);
        let xb = b.map(prep).unwrap_or_else(|| xa.clone());
        let n = xb.len() / k;
        let mut s = 0.0;
        for (i, ra) in xa.chunks(k).enumerate() {
            for (j, rb) in xb.chunks(k).enumerate() {
                s += w[i * n + j] * pair::distance(ra, rb, o.metric);
            }
        }
        s
    }

    #[test]
    fn matches_finite_differences_for_every_metric() {
        let mut seed = 3u64;
        let (m, n, k) = (5, 4, 3);
        let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        for metric in [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Cosine,
            Metric::Dot,
        ] {
            for normalize in [false, true] {
                let o = MetricOptions { metric, normalize };
                for self_mode in [false, true] {
                    let cols = if self_mode { m } else { n };
                    let w: Vec<f64> = (0..m * cols).map(|_| f64::from(lcg(&mut seed))).collect();
                    let am = MatRef::new(&a, m, k).unwrap();
                    let bm = (!self_mode).then(|| MatRef::new(&b, n, k).unwrap());
                    let d = pairwise_distances(&crate::Cpu, am, bm, &o, &Call::PLAIN).unwrap();
                    let grads = pairwise_backward(&Cpu, am, bm, &o, &d, &w, &Call::PLAIN).unwrap();
                    let bref = (!self_mode).then_some(&b[..]);
                    let h = 1e-3f32;
                    // Perturb every entry of a (and of b): central differences in f64.
                    let check = |x: &[f32], got: &[f64], which: &str| {
                        for t in 0..x.len() {
                            let mut plus = x.to_vec();
                            let mut minus = x.to_vec();
                            plus[t] += h;
                            minus[t] -= h;
                            let (lp, lm) = if which == "a" {
                                (loss(&plus, bref, k, &w, &o), loss(&minus, bref, k, &w, &o))
                            } else {
                                (
                                    loss(&a, Some(&plus), k, &w, &o),
                                    loss(&a, Some(&minus), k, &w, &o),
                                )
                            };
                            let want = (lp - lm) / f64::from(2.0 * h);
                            assert!(
                                (got[t] - want).abs() <= 2e-3 * (1.0 + want.abs()),
                                "{metric:?} normalize={normalize} self={self_mode} ∂{which}[{t}]: {} vs {want}",
                                got[t]
                            );
                        }
                    };
                    check(&a, &grads.a, "a");
                    if let Some(gb) = &grads.b {
                        check(&b, gb, "b");
                    }
                }
            }
        }
    }

    #[test]
    fn euclidean_gradient_is_zero_where_the_distance_is_zero() {
        let a = [1.0f32, 2.0, 1.0, 2.0];
        let am = MatRef::new(&a, 2, 2).unwrap();
        let o = MetricOptions::default();
        let d = pairwise_distances(&crate::Cpu, am, None, &o, &Call::PLAIN).unwrap();
        let g = pairwise_backward(&Cpu, am, None, &o, &d, &[1.0; 4], &Call::PLAIN).unwrap();
        assert!(g.a.iter().all(|v| *v == 0.0), "{:?}", g.a);
    }

    #[test]
    fn shapes_are_checked() {
        let a = [1.0f32, 2.0];
        let am = MatRef::new(&a, 1, 2).unwrap();
        let err = pairwise_backward(
            &Cpu,
            am,
            None,
            &MetricOptions::default(),
            &[0.0],
            &[],
            &Call::PLAIN,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "g: expected 1 × 1 values, received 0");
    }
}
