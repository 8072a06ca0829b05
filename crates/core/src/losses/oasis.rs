//! OASIS steps (Chechik, Sharma, Shalit & Bengio, JMLR 2010): passive-aggressive updates of a
//! bilinear similarity s(x, y) = xᵀ W y from uniformly sampled triplets. The sampling stream is
//! mulberry32, the same generator as the TypeScript reference, so every device draws the same
//! triplets from the same state.

use crate::{rules, Call, Error, MatRef};

/// Options of `oasis_steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OasisOptions {
    /// Aggressiveness C: the largest step, > 0.
    pub c: f64,
    /// Triplets to sample and learn from.
    pub steps: usize,
    /// The sampling stream's state (its seed, at the first call).
    pub state: u32,
}

impl Default for OasisOptions {
    /// C = 0.1 and no step: the caller sets the steps (API.md's default, 100 a row, depends on
    /// the data) and the stream's seed.
    fn default() -> Self {
        OasisOptions {
            c: 0.1,
            steps: 0,
            state: 0,
        }
    }
}

/// W after the steps, the stream's state to continue from, and the steps' summed hinge loss.
#[derive(Debug, Clone)]
pub struct OasisSteps {
    pub weights: Vec<f64>,
    pub state: u32,
    pub loss_sum: f64,
}

/// One uniform in [0, 1) from mulberry32, advancing `state`.
fn uniform(state: &mut u32) -> f64 {
    *state = state.wrapping_add(0x6d2b_79f5);
    let a = *state;
    let mut t = (a ^ (a >> 15)).wrapping_mul(1 | a);
    t = t.wrapping_add((t ^ (t >> 7)).wrapping_mul(61 | t)) ^ t;
    f64::from(t ^ (t >> 14)) / 4_294_967_296.0
}

/// The triplets of `o.steps` OASIS steps, drawn from the stream in order: each an anchor with
/// a positive and a negative, a positive (another row of its label) and a negative (a row of
/// another label). They do not depend on W, so a device can take them all at once. Also the
/// stream's state after them. None of them when no anchor has a positive and a negative.
pub fn sample_steps(labels: &[i32], o: &OasisOptions) -> (Vec<[u32; 3]>, u32) {
    let rows = labels.len();
    // The classes' rows in row order, and the anchors that have a positive and a negative.
    let mut by_class: std::collections::HashMap<i32, Vec<usize>> = Default::default();
    for (i, &l) in labels.iter().enumerate() {
        by_class.entry(l).or_default().push(i);
    }
    let anchors: Vec<usize> = (0..rows)
        .filter(|&i| (2..rows).contains(&by_class[&labels[i]].len()))
        .collect();
    let mut state = o.state;
    if anchors.is_empty() {
        return (Vec::new(), state);
    }
    let mut pick = |n: usize| (uniform(&mut state) * n as f64) as usize;
    let mut steps = Vec::with_capacity(o.steps);
    for _ in 0..o.steps {
        let a = anchors[pick(anchors.len())];
        let same = &by_class[&labels[a]];
        let mut p = a;
        while p == a {
            p = same[pick(same.len())];
        }
        let mut n = a;
        while labels[n] == labels[a] {
            n = pick(rows);
        }
        steps.push([a as u32, p as u32, n as u32]);
    }
    (steps, state)
}

/// The rules of `oasis_steps`, for every device.
pub fn check(x: MatRef, labels: &[i32], w: &[f64], o: &OasisOptions) -> Result<(), Error> {
    let d = x.cols();
    rules::labels("labels", labels, x.rows())?;
    if w.len() != d * d {
        return Err(Error::invalid(
            "weights",
            format!("expected {d} × {d} values, received {}", w.len()),
        ));
    }
    if !(o.c.is_finite() && o.c > 0.0) {
        return Err(Error::invalid(
            "c",
            format!(
                "expected a positive number, received {}",
                rules::js_number(o.c)
            ),
        ));
    }
    Ok(())
}

/// Takes `o.steps` OASIS steps from W (`cols × cols`, row-major) on the host: for each sampled
/// triplet, when l = max(0, 1 − aᵀW(p − n)) > 0, adds τ a (p − n)ᵀ to W, with
/// τ = min(C, l / (‖a‖² ‖p − n‖²)). Every sum runs in index order in float64, the order the
/// GPU's kernel keeps too, so both give the same bits.
pub fn oasis_steps(
    x: MatRef,
    labels: &[i32],
    w: &[f64],
    o: &OasisOptions,
    call: &Call,
) -> Result<OasisSteps, Error> {
    check(x, labels, w, o)?;
    let d = x.cols();
    let (steps, state) = sample_steps(labels, o);
    let mut out = OasisSteps {
        weights: w.to_vec(),
        state,
        loss_sum: 0.0,
    };
    let w = &mut out.weights;
    let mut diff = vec![0.0f64; d];
    for (step, &[a, p, n]) in steps.iter().enumerate() {
        if step % 1024 == 0 {
            call.stop.check()?;
            call.advance(step.min(1024), o.steps);
        }
        let (ra, rp, rn) = (x.row(a as usize), x.row(p as usize), x.row(n as usize));
        let (mut gap, mut aa, mut dd) = (0.0f64, 0.0f64, 0.0f64);
        for j in 0..d {
            diff[j] = f64::from(rp[j]) - f64::from(rn[j]);
        }
        for i in 0..d {
            let wi: f64 = (0..d).map(|j| w[i * d + j] * diff[j]).sum();
            gap += f64::from(ra[i]) * wi;
            aa += f64::from(ra[i]) * f64::from(ra[i]);
        }
        for v in &diff {
            dd += v * v;
        }
        let loss = (1.0 - gap).max(0.0);
        if loss > 0.0 && aa * dd > 0.0 {
            let tau = o.c.min(loss / (aa * dd));
            for i in 0..d {
                for j in 0..d {
                    w[i * d + j] += tau * f64::from(ra[i]) * diff[j];
                }
            }
        }
        out.loss_sum += loss;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_mulberry32() {
        // The first values of mulberry32 seeded with 0, as JavaScript computes them.
        let mut s = 0u32;
        let got: Vec<f64> = (0..3).map(|_| uniform(&mut s)).collect();
        let want = [
            0.26642920868471265,
            0.0003297457005828619,
            0.2232720274478197,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
    }

    #[test]
    fn one_step_worked_by_hand() {
        // Rows (1, 0), (0.5, 0), (0, 1), labels 0, 0, 1, W = I, C = 0.1: see conformance.
        let x = [1.0f32, 0.0, 0.5, 0.0, 0.0, 1.0];
        let m = MatRef::new(&x, 3, 2).unwrap();
        let o = OasisOptions {
            c: 0.1,
            steps: 1,
            state: 0,
        };
        let r = oasis_steps(m, &[0, 0, 1], &[1.0, 0.0, 0.0, 1.0], &o, &Call::PLAIN).unwrap();
        let options = [[1.05, -0.1, 0.0, 1.0], [1.05, -0.05, 0.0, 1.0]];
        assert!(
            options.iter().any(|want| want
                .iter()
                .zip(&r.weights)
                .all(|(a, b)| (a - b).abs() < 1e-12)),
            "{:?}",
            r.weights
        );
        assert!((r.loss_sum - 0.5).abs() < 1e-12);
    }
}
