//! The argument rules of the ops, each written once. The ops call these before any work, so
//! a Rust caller gets `Err(Invalid)` naming the argument, never a panic or a wrong answer.

use crate::miners::Strategy;
use crate::{Error, MatRef, Sample, MAX_TRIPLETS};

/// One label per row.
pub fn labels(name: &str, labels: &[i32], rows: usize) -> Result<(), Error> {
    if labels.len() != rows {
        return Err(Error::invalid(
            name,
            format!(
                "expected {rows} labels (one per row), received {}",
                labels.len()
            ),
        ));
    }
    Ok(())
}

/// A finite margin (or scale).
pub fn margin(name: &str, margin: f64) -> Result<(), Error> {
    if !margin.is_finite() {
        return Err(Error::invalid(
            name,
            format!("expected a finite number, received {}", js_number(margin)),
        ));
    }
    Ok(())
}

/// A number as JavaScript prints it, so that messages read the same from every device
/// ("Infinity" where Rust prints "inf").
pub fn js_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        v.to_string()
    }
}

/// `m` has the shape of `like` (both `rows × cols`).
pub fn same_shape(name: &str, m: MatRef, like_name: &str, like: MatRef) -> Result<(), Error> {
    if m.rows() != like.rows() || m.cols() != like.cols() {
        return Err(Error::invalid(
            name,
            format!(
                "expected {} × {} (the shape of {like_name}), received {} × {}",
                like.rows(),
                like.cols(),
                m.rows(),
                m.cols()
            ),
        ));
    }
    Ok(())
}

/// `m` has the columns of `like`, unless either has no rows (and so no embedding).
pub fn same_cols(name: &str, m: MatRef, like_name: &str, like: MatRef) -> Result<(), Error> {
    if m.rows() > 0 && like.rows() > 0 && m.cols() != like.cols() {
        return Err(Error::invalid(
            name,
            format!(
                "expected {} columns (the columns of {like_name}), received {}",
                like.cols(),
                m.cols()
            ),
        ));
    }
    Ok(())
}

/// A reference set (cross-batch memory): one label per row, the columns of `x`.
pub fn reference(x: MatRef, reference: Option<(MatRef, &[i32])>) -> Result<(), Error> {
    if let Some((r, rl)) = reference {
        labels("referenceLabels", rl, r.rows())?;
        same_cols("reference", r, "embeddings", x)?;
    }
    Ok(())
}

/// A sample's rules: a set strategy, at most 2³¹ − 1 triplets (a result's indices are int32),
/// and a reference offset only where there is a reference.
pub fn sample(s: &Sample, strategy: Strategy, reference_rows: Option<usize>) -> Result<(), Error> {
    if matches!(strategy, Strategy::BatchHard | Strategy::BatchSemihard) {
        return Err(Error::invalid(
            "sample",
            format!(
                "expected a set strategy ('all', 'violating', 'hard', 'semihard' or 'easy') to sample, received '{}'",
                if strategy == Strategy::BatchHard { "batch-hard" } else { "batch-semihard" }
            ),
        ));
    }
    if s.count > MAX_TRIPLETS {
        return Err(Error::invalid(
            "sample.count",
            format!(
                "expected an integer from 0 to {MAX_TRIPLETS}, received {}",
                s.count
            ),
        ));
    }
    if reference_rows.is_none() && s.reference_offset != 0 {
        return Err(Error::invalid(
            "sample.referenceOffset",
            format!(
                "expected 0 without a reference set (candidates are the anchors, at anchorOffset), received {}",
                s.reference_offset
            ),
        ));
    }
    Ok(())
}

/// knn's `opts.k`: 1 ≤ k ≤ corpus rows, or corpus rows − 1 when a query's own row is
/// excluded; a corpus with no row to search is refused first.
pub fn knn_k(k: usize, corpus_rows: usize, exclude_self: bool) -> Result<(), Error> {
    let max = corpus_rows.saturating_sub(usize::from(exclude_self));
    if max == 0 {
        let (least, with) = if exclude_self {
            (2, " with excludeSelf")
        } else {
            (1, "")
        };
        return Err(Error::invalid(
            "corpus",
            format!(
                "expected at least {least} rows to find neighbours in{with}, received {corpus_rows}"
            ),
        ));
    }
    if k == 0 || k > max {
        let why = if exclude_self {
            "corpus rows − 1, because of excludeSelf"
        } else {
            "the corpus rows"
        };
        return Err(Error::invalid(
            "opts.k",
            format!("expected an integer from 1 to {max} ({why}), received {k}"),
        ));
    }
    Ok(())
}

/// A count that must be at least 1.
pub fn positive(name: &str, v: usize) -> Result<(), Error> {
    if v == 0 {
        return Err(Error::invalid(name, "expected an integer ≥ 1, received 0"));
    }
    Ok(())
}

/// Triplets given by a caller (tripletLoss's `opts.mining`): three index arrays of one
/// length, every index a row, and every triplet valid (label[a] = label[p], label[n] ≠
/// label[a], and a ≠ p unless positives and negatives index `candidates`, the labels of the
/// reference set).
pub fn triplets(
    anchor: &[i32],
    positive: &[i32],
    negative: &[i32],
    labels: &[i32],
    candidates: Option<&[i32]>,
) -> Result<(), Error> {
    let n = anchor.len();
    for (arr, name) in [
        (positive, "opts.mining.positive"),
        (negative, "opts.mining.negative"),
    ] {
        if arr.len() != n {
            return Err(Error::invalid(
                name,
                format!(
                    "expected {n} indices (the length of opts.mining.anchor), received {}",
                    arr.len()
                ),
            ));
        }
    }
    let cand = candidates.unwrap_or(labels);
    let of_candidates = if candidates.is_some() {
        "the rows of opts.reference"
    } else {
        "the rows of embeddings"
    };
    for (arr, name, rows, what) in [
        (anchor, "anchor", labels.len(), "the rows of embeddings"),
        (positive, "positive", cand.len(), of_candidates),
        (negative, "negative", cand.len(), of_candidates),
    ] {
        if let Some(i) = arr.iter().position(|&v| v < 0 || v as usize >= rows) {
            let expected = match rows {
                0 => format!("no index at all ({what}: 0)"),
                _ => format!("an index from 0 to {} ({what}: {rows})", rows - 1),
            };
            return Err(Error::invalid(
                &format!("opts.mining.{name}[{i}]"),
                format!("expected {expected}, received {}", arr[i]),
            ));
        }
    }
    for t in 0..n {
        let (a, p, ng) = (
            anchor[t] as usize,
            positive[t] as usize,
            negative[t] as usize,
        );
        let at = format!("opts.mining: triplet {t} (anchor {a}, positive {p}, negative {ng})");
        if a == p && candidates.is_none() {
            return Err(Error::invalid(
                &at,
                "expected anchor ≠ positive, received the same row twice",
            ));
        }
        if cand[p] != labels[a] {
            return Err(Error::invalid(
                &at,
                format!(
                    "expected the positive to have the anchor's label {}, received label {}",
                    labels[a], cand[p]
                ),
            ));
        }
        if cand[ng] == labels[a] {
            return Err(Error::invalid(
                &at,
                format!(
                    "expected the negative to have a label other than the anchor's {}, received the same label",
                    labels[a]
                ),
            ));
        }
    }
    Ok(())
}
