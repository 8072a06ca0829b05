use crate::Error;

/// A borrowed row-major matrix of `rows × cols` finite floats. Only [`MatRef::new`] makes
/// one, so every op can rely on its shape and values.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatRef<'a> {
    /// Wraps `data`, checking that it holds exactly `rows × cols` finite values.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        Self::named("matrix", data, rows, cols)
    }

    /// As [`MatRef::new`], naming the argument `name` in the error.
    pub fn named(name: &str, data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::invalid(
                name,
                format!("expected {rows} × {cols} values, received {}", data.len()),
            ));
        }
        // NaN or ±inf would order and sum silently wrong. The pass has no early exit, so it
        // vectorises and stays cheap next to any op on the data; the culprit is looked up only
        // on failure.
        if !all_finite(data) {
            let at = data.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::invalid(
                name,
                format!(
                    "expected finite numbers, received {} at row {}, column {}",
                    crate::rules::js_number(f64::from(data[at])),
                    at / cols,
                    at % cols
                ),
            ));
        }
        Ok(Self { data, rows, cols })
    }

    /// The values, row after row.
    #[inline]
    pub fn data(&self) -> &'a [f32] {
        self.data
    }
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

crate::runtime::simd::widest! {
    /// Whether every value is finite: a pass with no early exit, so it vectorises (on the
    /// widest vector unit) and stays cheap next to any op on the data.
    pub fn all_finite(data: &[f32]) -> bool {
        data.iter().fold(true, |ok, v| ok & v.is_finite())
    }
}
