use crate::Error;

/// A borrowed row-major matrix of `rows × cols` floats.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl<'a> MatRef<'a> {
    /// Wraps `data`, checking that it holds exactly `rows × cols` values.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::Invalid(format!(
                "matrix data has {} values, expected {rows} × {cols}",
                data.len()
            )));
        }
        Ok(Self { data, rows, cols })
    }

    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}
