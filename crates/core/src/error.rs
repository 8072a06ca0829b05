use std::fmt;

/// Failures of a core op that input checks cannot rule out beforehand.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A set strategy would produce more than `limit` triplets.
    TooManyTriplets { limit: usize },
    /// The caller raised the op's stop flag before it finished.
    Cancelled,
    /// An argument is out of its domain (the TypeScript layer checks first; this is the backstop).
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooManyTriplets { limit } => write!(
                f,
                "mining would produce more than {limit} triplets; mine smaller batches"
            ),
            Error::Cancelled => f.write_str("the operation was cancelled"),
            Error::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}
