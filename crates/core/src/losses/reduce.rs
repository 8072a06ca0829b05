//! How per-term losses become one loss: the reducer every loss shares.

use crate::Error;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Mean over all terms.
    Mean,
    /// Sum over all terms.
    Sum,
    /// Mean over the terms whose loss is > 0.
    MeanActive,
    /// Every term keeps its own loss; the reduced loss is their sum (and so is its gradient).
    None,
}

impl Reduction {
    /// The spelling of API.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
            Reduction::MeanActive => "mean-active",
            Reduction::None => "none",
        }
    }

    /// The factor that turns the sum of `count` term losses, `active` of them > 0, into the
    /// reduced loss (and the summed gradient into its gradient). `None` when the loss is 0 by
    /// definition: no term, or no active term under `MeanActive`.
    pub fn scale(self, count: usize, active: usize) -> Option<f64> {
        let divisor = match self {
            Reduction::Mean => count,
            Reduction::MeanActive => active,
            Reduction::Sum | Reduction::None => return (count > 0).then_some(1.0),
        };
        (divisor > 0).then(|| 1.0 / divisor as f64)
    }

    /// `Err` naming `name` unless this reduction is one of `allowed`.
    pub fn check(self, name: &str, allowed: &[Reduction]) -> Result<(), Error> {
        if allowed.contains(&self) {
            return Ok(());
        }
        let list: Vec<String> = allowed
            .iter()
            .map(|r| format!("'{}'", r.as_str()))
            .collect();
        Err(Error::invalid(
            name,
            format!(
                "expected one of {}, received '{}'",
                list.join(", "),
                self.as_str()
            ),
        ))
    }
}

impl FromStr for Reduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            "mean-active" => Reduction::MeanActive,
            "none" => Reduction::None,
            _ => {
                return Err(Error::invalid(
                    "reduction",
                    format!("expected 'mean', 'sum', 'mean-active' or 'none', received '{s}'"),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(Reduction::Mean.scale(4, 2), Some(0.25));
        assert_eq!(Reduction::MeanActive.scale(4, 2), Some(0.5));
        assert_eq!(Reduction::Sum.scale(4, 0), Some(1.0));
        assert_eq!(Reduction::None.scale(4, 0), Some(1.0));
        assert_eq!(Reduction::Mean.scale(0, 0), None);
        assert_eq!(Reduction::MeanActive.scale(4, 0), None);
        assert_eq!(Reduction::Sum.scale(0, 0), None);
    }

    #[test]
    fn parses_and_checks() {
        for r in [
            Reduction::Mean,
            Reduction::Sum,
            Reduction::MeanActive,
            Reduction::None,
        ] {
            assert_eq!(r.as_str().parse::<Reduction>().unwrap(), r);
        }
        assert!("avg".parse::<Reduction>().is_err());
        let err = Reduction::None
            .check("reduction", &[Reduction::Mean, Reduction::Sum])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reduction: expected one of 'mean', 'sum', received 'none'"
        );
    }
}
