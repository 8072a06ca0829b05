//! How far a distance from bfloat16 products can be from the exact one, as per-row and
//! per-column terms.
//!
//! A candidate's exact key e (the distance the cpu computes, squared for euclidean) and its
//! approximation from the tile unit's product p̂ ≈ a·b satisfy, for rows a and b with squared
//! norms na and nb (float32, as prepared) in d columns,
//!
//! ```text
//!   lower = (R_lo(a) + C_lo(b)) − (β·p̂ + A(a)·s(b))  ≤  e  ≤  (R_hi(a) + C_hi(b)) − (β·p̂ − A(a)·s(b)) = upper
//! ```
//!
//! with s(b) = √nb and β the weight of the product in the key (2 for ‖a‖² + ‖b‖² − 2a·b, 1 for
//! −a·b and 1 − a·b). Why:
//! - Rounding each value to bfloat16 moves it by at most 2⁻⁸ of itself, a product of two by
//!   2⁻⁷ + 2⁻¹⁶; summed over the columns that is at most (2⁻⁷ + 2⁻¹⁶)·Σ|a_c b_c| ≤
//!   (2⁻⁷ + 2⁻¹⁶)·√na·√nb (Cauchy–Schwarz; na and nb are within 2⁻²⁴ of the true squares).
//!   `dot_error` takes 2⁻⁷ + 2⁻¹⁵.
//! - Both sums are float32: the unit's in some order, ours as one chain of fused multiply-adds;
//!   each is within d·2⁻²⁴/(1 − d·2⁻²⁴) of Σ|a_c b_c| of the true sum.
//! - The unit flushes subnormal inputs and results to zero: at most 2⁻¹²⁶ a term and a step,
//!   the `TINY` terms.
//! - Everything else is a few float32 roundings of quantities no larger than 2.2·(na + nb)
//!   (euclidean) or √na·√nb (the others): the keys' own (the norms' sum, the square root that
//!   gives euclidean, 1 − x), and the evaluation of lower and upper here. `ROUNDING` = 2⁻¹⁸
//!   is 64 units of the last place of those, several times what they can add up to.
//!
//! `dot_error` gathers the first two with 2 % to spare (its 4(d + 2)·2⁻²⁴ covers both sums'
//! d·2⁻²⁴/(1 − d·2⁻²⁴) while d < 2²⁰, which `usable_dim` asks). The bound holds while nothing
//! overflows: `usable` asks for squared norms below 2¹⁰⁰.

use crate::Metric;

/// Relative rounding of the evaluations, as a share of the terms' scale.
const ROUNDING: f32 = 1.0 / 262_144.0;
/// Absolute slack for the unit's flushed subnormals, generous against 2⁻¹²⁶.
const TINY: f32 = 1.0 / (1u128 << 118) as f32;
/// The largest squared norm the bound takes: far from float32 overflow in any term.
const LARGEST_SQ_NORM: f32 = 1.267_650_6e30; // 2^100

/// The error of the approximate product as a share of √na·√nb, in `d` columns.
fn dot_error(d: usize) -> f32 {
    let u = 1.0 / 16_777_216.0f64; // 2^-24
    let e = 1.0 / 128.0 + 1.0 / 32_768.0 + 4.0 * (d as f64 + 2.0) * u;
    (e * 1.02) as f32
}

/// Whether the bound's sum term covers `d` columns.
pub fn usable_dim(d: usize) -> bool {
    d < 1 << 20
}

/// Whether the bound holds for rows with these squared norms.
pub fn usable(sq_norms: &[f32]) -> bool {
    sq_norms.iter().all(|&n| n <= LARGEST_SQ_NORM)
}

/// The terms of one side: per row of the query side, or per row of the corpus side.
#[derive(Debug, Default)]
pub struct Terms {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
    /// A(a) on the query side, s(b) on the corpus side.
    pub scale: Vec<f32>,
}

/// The weight β of the product in the key of `metric`.
pub fn weight(metric: Metric) -> f32 {
    match metric {
        Metric::Euclidean | Metric::SqEuclidean => 2.0,
        Metric::Dot | Metric::Cosine => 1.0,
    }
}

/// R_lo, R_hi and A for query rows with squared norms `sq`, in `d` columns; `centred` are
/// the squared norms of the rows less the centre the products were taken about (`centre`).
pub fn query_terms(metric: Metric, sq: &[f32], centred: &[f32], d: usize) -> Terms {
    let e = dot_error(d);
    let root_d = (d as f32).sqrt();
    let mut t = Terms::default();
    for (&n, &c) in sq.iter().zip(centred) {
        let tiny = TINY * (d as f32 + root_d * c.sqrt());
        let (lo, hi, a) = match metric {
            // The products are of centred rows, so their error scales with the centred norms;
            // the cpu's own key is computed from the rows as they are, so its rounding
            // scales with theirs.
            Metric::Euclidean | Metric::SqEuclidean => (
                (1.0 - ROUNDING) * c - ROUNDING * n - 2.0 * tiny,
                (1.0 + ROUNDING) * c + ROUNDING * n + 2.0 * tiny,
                2.0 * e * c.sqrt(),
            ),
            Metric::Dot => (-tiny, tiny, (e + ROUNDING) * n.sqrt()),
            Metric::Cosine => (
                1.0 - ROUNDING - tiny,
                1.0 + ROUNDING + tiny,
                (e + ROUNDING) * n.sqrt(),
            ),
        };
        t.lo.push(lo);
        t.hi.push(hi);
        t.scale.push(a);
    }
    t
}

/// C_lo, C_hi and s for corpus rows with squared norms `sq` (and `centred`, as in
/// `query_terms`), in `d` columns.
pub fn corpus_terms(metric: Metric, sq: &[f32], centred: &[f32], d: usize) -> Terms {
    let root_d = (d as f32).sqrt();
    let mut t = Terms::default();
    for (&n, &c) in sq.iter().zip(centred) {
        let tiny = TINY * root_d * c.sqrt();
        let (lo, hi, s) = match metric {
            Metric::Euclidean | Metric::SqEuclidean => (
                (1.0 - ROUNDING) * c - ROUNDING * n - 2.0 * tiny,
                (1.0 + ROUNDING) * c + ROUNDING * n + 2.0 * tiny,
                c.sqrt(),
            ),
            Metric::Dot | Metric::Cosine => (-tiny, tiny, n.sqrt()),
        };
        t.lo.push(lo);
        t.hi.push(hi);
        t.scale.push(s);
    }
    t
}

/// Rows sampled for the centre: its only job is to bring the rows near the origin.
const CENTRE_SAMPLE: usize = 4096;

/// The point the euclidean products are taken about: the mean of up to `CENTRE_SAMPLE` rows
/// of `data` spread over it. ‖a − b‖ is the same about any point, and the bound's main term
/// scales with the rows' norms about it, so rows far from the origin (all positive, say) keep
/// the bound as tight as centred ones. `None` where the rows' mean is small (its squared norm
/// under a quarter of theirs: centring would shrink the bound by less than a seventh, and it
/// costs a pass over the corpus, 40–100 ms of knn 1,000 × 100,000 at d = 768), and for the
/// other metrics, whose keys are the products themselves.
pub fn centre(metric: Metric, data: &[f32], rows: usize, cols: usize) -> Option<Vec<f32>> {
    if !matches!(metric, Metric::Euclidean | Metric::SqEuclidean) || rows == 0 {
        return None;
    }
    let step = rows.div_ceil(CENTRE_SAMPLE).max(1);
    let mut sum = vec![0.0f64; cols];
    let (mut count, mut sq) = (0usize, 0.0f64);
    for r in (0..rows).step_by(step) {
        for (s, &x) in sum.iter_mut().zip(&data[r * cols..(r + 1) * cols]) {
            *s += f64::from(x);
            sq += f64::from(x) * f64::from(x);
        }
        count += 1;
    }
    let mean: Vec<f64> = sum.iter().map(|&s| s / count as f64).collect();
    let mean_sq: f64 = mean.iter().map(|m| m * m).sum();
    (mean_sq >= 0.25 * sq / count as f64).then(|| mean.iter().map(|&m| m as f32).collect())
}

/// `rows` less `centre` (each entry one float32 subtraction, whose rounding is relative to
/// its result and so joins the bfloat16 rounding's share), or the rows as they are.
pub fn centred<'r>(rows: &'r [f32], centre: Option<&[f32]>) -> std::borrow::Cow<'r, [f32]> {
    match centre {
        None => std::borrow::Cow::Borrowed(rows),
        Some(m) => std::borrow::Cow::Owned(
            rows.chunks_exact(m.len())
                .flat_map(|r| r.iter().zip(m).map(|(&x, &c)| x - c))
                .collect(),
        ),
    }
}

/// Squared norms of `rows` (float64 sums, rounded), or `sq` itself without a centre.
pub fn centred_norms<'s>(
    rows: &[f32],
    cols: usize,
    sq: &'s [f32],
    centre: Option<&[f32]>,
) -> std::borrow::Cow<'s, [f32]> {
    match centre {
        None => std::borrow::Cow::Borrowed(sq),
        Some(_) => std::borrow::Cow::Owned(
            rows.chunks_exact(cols)
                .map(|r| crate::distances::pair::sq_norm(r) as f32)
                .collect(),
        ),
    }
}

/// The key a bound is compared with: the distance, squared for euclidean.
pub fn bound_key(metric: Metric, distance: f32) -> f32 {
    if metric == Metric::Euclidean {
        distance * distance
    } else {
        distance
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distances::amx::{bf16, f32_of};
    use crate::distances::{Distances, Rows};

    /// lower ≤ the exact key ≤ upper for every metric, on rows chosen to stress it: wide
    /// ranges of magnitude, near-duplicates (cancellation), opposite rows, zero rows.
    #[test]
    fn exact_keys_lie_between_the_bounds() {
        let mut seed = 11u64;
        let d = 77;
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for scale in [1e-20f32, 1e-3, 1.0, 7.0, 1e12] {
            for _ in 0..6 {
                rows.push(
                    (0..d)
                        .map(|_| crate::testing::lcg(&mut seed) * scale)
                        .collect(),
                );
            }
        }
        let first = rows[12].clone();
        rows.push(first.iter().map(|x| x * (1.0 + 1e-6)).collect());
        rows.push(first.iter().map(|x| -x).collect());
        rows.push(vec![0.0; d]);
        // Rows far from the origin: all positive, and offset by 1e3.
        for off in [1.0f32, 1e3] {
            for _ in 0..4 {
                rows.push(
                    (0..d)
                        .map(|_| off + crate::testing::lcg(&mut seed))
                        .collect(),
                );
            }
        }
        let flat: Vec<f32> = rows.concat();
        let m = crate::MatRef::new(&flat, rows.len(), d).unwrap();
        for metric in [
            Metric::Euclidean,
            Metric::SqEuclidean,
            Metric::Dot,
            Metric::Cosine,
        ] {
            let o = crate::MetricOptions {
                metric,
                normalize: false,
            };
            // The cpu's keys, and the rows as it prepared them.
            let prepared = Rows::prepare(m, o);
            let keys = Distances::new(m, None, o).full().unwrap();
            let n = rows.len();
            let sq = prepared.sq_norms();
            // About the origin, and about the centre (the mean of the rows, or a far point).
            let far: Vec<f32> = (0..d).map(|c| 40.0 - c as f32).collect();
            let mut centres = vec![None];
            if matches!(metric, Metric::Euclidean | Metric::SqEuclidean) {
                let mean: Vec<f32> = (0..d)
                    .map(|c| (0..n).map(|i| prepared.row(i)[c]).sum::<f32>() / n as f32)
                    .collect();
                centres.extend([Some(mean), Some(far)]);
            }
            for m in &centres {
                let moved = centred(prepared.data(), m.as_deref());
                let sq_c = centred_norms(&moved, d, sq, m.as_deref());
                let (q, c) = (
                    query_terms(metric, sq, &sq_c, d),
                    corpus_terms(metric, sq, &sq_c, d),
                );
                let beta = weight(metric);
                for i in 0..n {
                    for j in 0..n {
                        let (a, b) = (&moved[i * d..(i + 1) * d], &moved[j * d..(j + 1) * d]);
                        let p: f32 = a
                            .iter()
                            .zip(b)
                            .map(|(&x, &y)| f32_of(bf16(x)) * f32_of(bf16(y)))
                            .sum();
                        let lower = (q.lo[i] + c.lo[j]) - (beta * p + q.scale[i] * c.scale[j]);
                        let upper = (q.hi[i] + c.hi[j]) - (beta * p - q.scale[i] * c.scale[j]);
                        let key = bound_key(metric, keys[i * n + j]);
                        assert!(
                            lower <= key && key <= upper,
                            "{metric:?} rows {i}, {j}, centre {}: {lower} ≤ {key} ≤ {upper}",
                            m.is_some()
                        );
                    }
                }
            }
        }
    }

    /// Rows far from the origin get a centre (their mean); rows around it, and the other
    /// metrics, none.
    #[test]
    fn the_centre_is_taken_where_the_rows_sit_off_the_origin() {
        let mut seed = 2u64;
        let around: Vec<f32> = (0..400 * 8)
            .map(|_| crate::testing::lcg(&mut seed))
            .collect();
        let off: Vec<f32> = around.iter().map(|x| x + 3.0).collect();
        assert!(centre(Metric::Euclidean, &around, 400, 8).is_none());
        let m = centre(Metric::SqEuclidean, &off, 400, 8).unwrap();
        assert!(m.iter().all(|&c| (c - 3.0).abs() < 0.2), "{m:?}");
        assert!(centre(Metric::Dot, &off, 400, 8).is_none());
    }

    #[test]
    fn norms_past_the_range_turn_the_bound_off() {
        assert!(usable(&[0.0, 1.0, 1e29]));
        assert!(!usable(&[1.0, 1e31]));
    }
}
