use crate::Error;
use std::str::FromStr;

/// A distance: smaller is closer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Metric {
    /// ‖a − b‖₂ (the default)
    #[default]
    Euclidean,
    /// ‖a − b‖₂²
    SqEuclidean,
    /// 1 − a·b / (‖a‖ ‖b‖); 1 when either vector is zero.
    Cosine,
    /// −a·b
    Dot,
}

impl FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "euclidean" => Ok(Metric::Euclidean),
            "sqeuclidean" => Ok(Metric::SqEuclidean),
            "cosine" => Ok(Metric::Cosine),
            "dot" => Ok(Metric::Dot),
            _ => Err(Error::invalid(
                "metric",
                format!("expected 'euclidean', 'sqeuclidean', 'cosine' or 'dot', received '{s}'"),
            )),
        }
    }
}

/// A similarity (larger = closer), for the losses defined on similarities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Similarity {
    /// a·b / (‖a‖ ‖b‖); 0 when either vector is zero (the default).
    #[default]
    Cosine,
    /// a·b
    Dot,
}

impl FromStr for Similarity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "cosine" => Ok(Similarity::Cosine),
            "dot" => Ok(Similarity::Dot),
            _ => Err(Error::invalid(
                "similarity",
                format!("expected 'cosine' or 'dot', received '{s}'"),
            )),
        }
    }
}
