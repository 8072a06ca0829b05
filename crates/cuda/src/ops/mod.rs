//! The host side of each op on a `Gpu`: chunk planning, uploads, launches, merging and
//! assembling the results. Written once for the driver and the emulator.
pub mod backward;
pub mod classes;
pub mod contrastive;
pub mod distance;
pub mod knn;
pub mod ladder;
pub mod margin;
pub mod mining;
pub mod ranking;
pub mod semihard;
pub mod set;
pub mod verification;

use crate::gpu::{Buffer, Gpu};
use tripletkit_core::distance::Rows;
use tripletkit_core::Error;

/// Rows a launch may take along a grid's y dimension (65535 blocks of one tile).
pub const MAX_GRID_Y_ROWS: usize = 65_535 * crate::kernels::TILE;

/// Bytes a prepared row takes on the device: its values and its squared norm.
pub fn row_bytes(cols: usize) -> usize {
    4 * cols + 4
}

/// Rows `r0..r1` of prepared rows (values and squared norms) on the device.
pub struct Side<'g> {
    pub data: Buffer<'g, f32>,
    pub norms: Buffer<'g, f32>,
    pub rows: usize,
}

impl<'g> Side<'g> {
    pub fn upload(gpu: &'g dyn Gpu, rows: &Rows, r0: usize, r1: usize) -> Result<Self, Error> {
        let cols = rows.cols();
        Ok(Side {
            data: Buffer::from_slice(gpu, &rows.data()[r0 * cols..r1 * cols])?,
            norms: Buffer::from_slice(gpu, &rows.sq_norms()[r0..r1])?,
            rows: r1 - r0,
        })
    }
}

/// The error for work whose smallest chunk does not fit the device.
pub fn too_large(what: &str, budget: usize) -> Error {
    Error::OutOfMemory {
        device: format!("cuda ({what}: even the smallest chunk exceeds the {budget} bytes free)"),
        bytes: budget,
    }
}

/// Rows a launch takes so that it stays around `macs` multiply-adds: chunks then come often
/// enough for progress and stops, and each is still a full grid.
pub fn rows_for_work(cols: usize, dim: usize, macs: usize) -> usize {
    let per_row = cols.max(1).saturating_mul(dim.max(1));
    let r = (macs / per_row).max(crate::kernels::TILE);
    r - r % crate::kernels::TILE
}
