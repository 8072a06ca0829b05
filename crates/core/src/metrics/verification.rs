//! Face-verification metrics over labelled pairs (the LFW protocol of FaceNet): pair i is
//! (a_i, b_i), `same[i]` says whether both show one identity, and "same" is predicted when
//! d(a_i, b_i) ≤ a threshold. One sort of the pair distances gives every threshold at once.

use crate::{distances::pair, rules, Call, Device, Error, MatRef, Metric, VerificationOptions};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verification {
    /// The best accuracy over all thresholds.
    pub accuracy: f64,
    /// The smallest threshold reaching it (−∞: predicting no pair the same is best).
    pub threshold: f64,
    /// Area under the ROC curve of the score −d; ties count one half.
    pub roc_auc: f64,
    /// The largest true-accept rate whose false-accept rate is ≤ `far`.
    pub tar_at_far: f64,
    /// Where false accepts equal false rejects, interpolated on the ROC curve.
    pub eer: f64,
}

/// The metrics of the pairs (a_i, b_i) labelled by `same` (nonzero: the same identity); the
/// pairs' distances come from `dev`, in f64.
pub fn verification_metrics(
    dev: &dyn Device,
    a: MatRef,
    b: MatRef,
    same: &[u8],
    o: &VerificationOptions,
    call: &Call,
) -> Result<Verification, Error> {
    check(a, b, same, o)?;
    call.stop.check()?;
    let cols = a.cols();
    let [ua, ub]: [Cow<[f32]>; 2] = [a, b].map(|m| {
        if o.distance.normalize {
            Cow::Owned(pair::normalize_rows(m.data(), cols))
        } else {
            Cow::Borrowed(m.data())
        }
    });
    let d = dev.pair_distances(&ua, &ub, a.rows(), cols, o.distance.metric, call)?;
    Ok(from_distances(&d, same, o.far))
}

/// The cpu device's `pair_distances`.
pub fn cpu_pair_distances(
    a: &[f32],
    b: &[f32],
    rows: usize,
    cols: usize,
    metric: Metric,
) -> Vec<f64> {
    (0..rows)
        .map(|i| {
            let span = i * cols..(i + 1) * cols;
            pair::distance(&a[span.clone()], &b[span], metric)
        })
        .collect()
}

/// The argument rules of `verification_metrics`, for every device.
pub fn check(a: MatRef, b: MatRef, same: &[u8], o: &VerificationOptions) -> Result<(), Error> {
    rules::same_shape("b", b, "a", a)?;
    if same.len() != a.rows() {
        return Err(Error::invalid(
            "same",
            format!(
                "expected {} flags (one per pair), received {}",
                a.rows(),
                same.len()
            ),
        ));
    }
    if !(0.0..=1.0).contains(&o.far) {
        return Err(Error::invalid(
            "opts.far",
            format!(
                "expected a rate from 0 to 1, received {}",
                rules::js_number(o.far)
            ),
        ));
    }
    let positives = same.iter().filter(|&&s| s != 0).count();
    let negatives = same.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::invalid(
            "same",
            format!("expected at least one same and one different pair, received {positives} same and {negatives} different"),
        ));
    }
    Ok(())
}

/// The metrics from each pair's distance (as `pair::distance` gives it, after normalising
/// where asked), for a device that computes the distances itself. `same` has been checked.
pub fn from_distances(d: &[f64], same: &[u8], far: f64) -> Verification {
    let positives = same.iter().filter(|&&s| s != 0).count();
    let negatives = same.len() - positives;
    let mut scored: Vec<(f64, bool)> = d.iter().zip(same).map(|(&v, &s)| (v, s != 0)).collect();
    scored.sort_by(|x, y| x.0.total_cmp(&y.0));
    sweep(&scored, positives, negatives, far)
}

/// Walks the thresholds in ascending order: −∞, then every distinct distance.
fn sweep(scored: &[(f64, bool)], positives: usize, negatives: usize, far: f64) -> Verification {
    let (np, nn, n) = (positives as f64, negatives as f64, scored.len() as f64);
    let (mut pos_le, mut neg_le) = (0usize, 0usize);
    let mut best = (nn / n, f64::NEG_INFINITY);
    let mut tar_at_far = 0.0;
    let mut roc = vec![(0.0f64, 0.0f64)];
    let mut i = 0;
    while i < scored.len() {
        let d = scored[i].0;
        while i < scored.len() && scored[i].0 == d {
            if scored[i].1 {
                pos_le += 1;
            } else {
                neg_le += 1;
            }
            i += 1;
        }
        let (tar, fa) = (pos_le as f64 / np, neg_le as f64 / nn);
        let accuracy = (pos_le + negatives - neg_le) as f64 / n;
        if accuracy > best.0 {
            best = (accuracy, d);
        }
        if fa <= far {
            tar_at_far = f64::max(tar_at_far, tar);
        }
        roc.push((fa, tar));
    }
    let roc_auc = roc
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    Verification {
        accuracy: best.0,
        threshold: best.1,
        roc_auc,
        tar_at_far,
        eer: equal_error_rate(&roc),
    }
}

/// The false-accept rate where it equals the false-reject rate (1 − TAR), linearly
/// interpolated on the segment of the ROC polyline that crosses FAR = 1 − TAR.
fn equal_error_rate(roc: &[(f64, f64)]) -> f64 {
    for w in roc.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let (f0, f1) = (x0 - (1.0 - y0), x1 - (1.0 - y1));
        if f0 <= 0.0 && f1 >= 0.0 {
            let t = if f1 == f0 { 0.0 } else { f0 / (f0 - f1) };
            return x0 + t * (x1 - x0);
        }
    }
    // The polyline ends at (1, 1), where FAR − FRR = 1 > 0, and starts at (0, 0), where it is
    // −1, so a crossing always exists; this is for the compiler.
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked() {
        // Distances (1-d points, euclidean): same pairs 0.5, 1, 3; different pairs 2, 4.
        // Thresholds −∞: acc 2/5; 0.5: 3/5; 1: 4/5; 2: 3/5; 3: 4/5; 4: 3/5 → best 0.8 at 1.
        // ROC (FAR, TAR): (0,0) (0,⅓) (0,⅔) (½,⅔) (½,1) (1,1): AUC = ½·⅔ + ½·1 = 5/6.
        // TAR at FAR ≤ 0: ⅔. EER: the segment (0,⅔) → (½,⅔) crosses FAR = ⅓.
        let a = [0.0f32, 0.0, 0.0, 0.0, 0.0];
        let b = [0.5f32, 1.0, 3.0, 2.0, 4.0];
        let (am, bm) = (
            MatRef::new(&a, 5, 1).unwrap(),
            MatRef::new(&b, 5, 1).unwrap(),
        );
        let o = VerificationOptions {
            far: 0.0,
            ..VerificationOptions::default()
        };
        let v =
            verification_metrics(&crate::Cpu, am, bm, &[1, 1, 1, 0, 0], &o, &Call::PLAIN).unwrap();
        assert_eq!((v.accuracy, v.threshold), (0.8, 1.0));
        assert!((v.roc_auc - 5.0 / 6.0).abs() < 1e-12, "{}", v.roc_auc);
        assert!((v.tar_at_far - 2.0 / 3.0).abs() < 1e-12);
        assert!((v.eer - 1.0 / 3.0).abs() < 1e-12, "{}", v.eer);
    }

    #[test]
    fn ties_count_one_half() {
        // One same and one different pair at the same distance: AUC ½, EER ½.
        let a = [0.0f32, 0.0];
        let b = [1.0f32, 1.0];
        let (am, bm) = (
            MatRef::new(&a, 2, 1).unwrap(),
            MatRef::new(&b, 2, 1).unwrap(),
        );
        let v = verification_metrics(
            &crate::Cpu,
            am,
            bm,
            &[1, 0],
            &VerificationOptions::default(),
            &Call::PLAIN,
        )
        .unwrap();
        assert_eq!((v.roc_auc, v.eer, v.accuracy), (0.5, 0.5, 0.5));
        assert_eq!(v.threshold, f64::NEG_INFINITY);
    }

    #[test]
    fn one_class_alone_is_an_error() {
        let a = [0.0f32, 1.0];
        let m = MatRef::new(&a, 2, 1).unwrap();
        let err = verification_metrics(
            &crate::Cpu,
            m,
            m,
            &[1, 1],
            &VerificationOptions::default(),
            &Call::PLAIN,
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("same: expected at least one same and one different pair"));
    }
}
