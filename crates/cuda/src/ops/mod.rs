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
pub mod oasis;
pub mod rank;
pub mod sample;
pub mod semihard;
pub mod set;
pub mod supcon;
pub mod verification;

use crate::gpu::{blocks, Buffer, DevPtr, Gpu, Params};
use crate::kernels::{metric_code, DISTANCE_TILE, DISTANCE_TILE_TF32, THREADS, TILE};
use crate::math::Math;
use tripletkit_core::distances::Rows;
use tripletkit_core::{Error, Metric};

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

/// A labelled batch's rows prepared for mining: the anchors, and the candidates (the anchors
/// themselves, or a reference set) with their labels.
pub struct Batch<'a> {
    pub anchors: Rows<'a>,
    reference: Option<Rows<'a>>,
    pub cand_labels: &'a [i32],
    /// The candidates are the anchors: a row is never its own positive.
    pub self_mode: bool,
}

impl<'a> Batch<'a> {
    /// Core's batch, its rows prepared under its metric.
    pub fn of(b: &tripletkit_core::Batch<'a>) -> Self {
        Batch {
            anchors: Rows::prepare(b.x, b.metric),
            reference: b.reference.map(|r| Rows::prepare(r.0, b.metric)),
            cand_labels: b.candidate_labels(),
            self_mode: b.reference.is_none(),
        }
    }

    pub fn candidates(&self) -> &Rows<'a> {
        self.reference.as_ref().unwrap_or(&self.anchors)
    }

    /// (anchors, candidates, dimensions), or None when there is nothing to mine; sizes past a
    /// kernel's `int` are refused.
    pub fn shape(&self) -> Result<Option<(usize, usize, usize)>, Error> {
        let (rows, cols, dim) = (
            self.anchors.rows(),
            self.candidates().rows(),
            self.anchors.cols(),
        );
        if rows == 0 || cols == 0 {
            return Ok(None);
        }
        crate::gpu::int(rows.max(cols), "embeddings")?;
        crate::gpu::int(dim, "embeddings")?;
        Ok(Some((rows, cols, dim)))
    }
}

/// Prepared rows on the device, wherever they sit: values and squared norms, `rows` of them,
/// the first of global index `first` (what the distance kernel's diagonal rule compares).
#[derive(Clone, Copy)]
pub struct RowsAt {
    pub data: DevPtr,
    pub norms: DevPtr,
    pub rows: usize,
    pub first: usize,
}

impl Side<'_> {
    /// Rows `from..to` of this side (global indices counted from `first`), in place.
    pub fn rows_at(&self, from: usize, to: usize, dim: usize, first: usize) -> RowsAt {
        RowsAt {
            data: self.data.ptr() + (4 * from * dim) as u64,
            norms: self.norms.ptr() + (4 * from) as u64,
            rows: to - from,
            first: first + from,
        }
    }
}

/// D(a, b) into `out`, row-major `a.rows × b.rows` with `ld` floats a row, by the distance
/// kernel in `math` (the call's, read once when it starts); `self_mode`: a and b come from one
/// matrix, whose diagonal (equal global indices) is exactly 0. Sizes are below 2³¹ (the
/// callers check).
#[allow(clippy::too_many_arguments)]
pub fn distance_tile(
    gpu: &dyn Gpu,
    a: RowsAt,
    b: RowsAt,
    dim: usize,
    out: DevPtr,
    ld: usize,
    metric: Metric,
    math: Math,
    self_mode: bool,
) -> Result<(), Error> {
    let mut p = Params::new();
    p.ptr(a.data)
        .ptr(a.norms)
        .int(a.rows as i32)
        .ptr(b.data)
        .ptr(b.norms)
        .int(b.rows as i32)
        .int(dim as i32)
        .int(a.first as i32)
        .int(b.first as i32)
        .ptr(out)
        .int(ld as i32)
        .int(metric_code(metric))
        .int(i32::from(self_mode));
    let kernel = match math {
        Math::Fp32 => DISTANCE_TILE,
        Math::Tf32x3 => DISTANCE_TILE_TF32,
    };
    // SAFETY: tk_distance_tile's signature; `a` and `b` hold their rows of `dim` values on
    // the device and `out` a.rows rows of `ld` ≥ b.rows floats (the callers' buffers).
    unsafe {
        p.launch(
            gpu,
            kernel,
            [blocks(b.rows, TILE), blocks(a.rows, TILE), 1],
            [THREADS, 1, 1],
        )
    }
}

/// D(q, c) kept on the device, row-major `q.rows × c.rows` (`self_mode`: c is q, with an
/// exact-zero diagonal), made a chunk of rows a launch so that stops and progress come often.
pub fn resident_distances<'g>(
    gpu: &'g dyn Gpu,
    (q, m): (&Side<'_>, usize),
    (c, n): (&Side<'_>, usize),
    dim: usize,
    metric: Metric,
    self_mode: bool,
    call: &tripletkit_core::Call,
) -> Result<Buffer<'g, f32>, Error> {
    let d = Buffer::<f32>::uninit(gpu, m * n)?;
    let math = gpu.math().get();
    for (r0, r1) in crate::plan::chunks(m, rows_for_work(n, dim, gpu.chunk_macs())) {
        call.stop.check()?;
        let out = d.ptr() + (4 * r0 * n) as u64;
        let (a, b) = (q.rows_at(r0, r1, dim, 0), c.rows_at(0, n, dim, 0));
        distance_tile(gpu, a, b, dim, out, n, metric, math, self_mode)?;
        call.advance(r1 - r0, m);
    }
    call.stop.check()?;
    Ok(d)
}

/// Blocks a launch of the fused miners aims for: about 10 waves of their kernels on an H200
/// (132 SMs, 3 blocks each) and 13 on an A100 (crates/cuda/tests/launches.rs holds them to at
/// least 4).
pub const TARGET_BLOCKS: usize = 4096;

/// Columns each block of a fused miner's launch over `h` rows and `w` columns walks: a
/// multiple of the tile (so tiles fall where they would in one block), such that row tiles ×
/// spans is about `TARGET_BLOCKS` however few rows a chunk has.
pub fn column_span(h: usize, w: usize) -> usize {
    let row_tiles = h.div_ceil(crate::kernels::TILE).max(1);
    let spans = TARGET_BLOCKS.div_ceil(row_tiles).max(1);
    w.div_ceil(spans).div_ceil(crate::kernels::TILE).max(1) * crate::kernels::TILE
}

/// The error for work whose smallest chunk, `need` bytes, does not fit the budget.
pub fn too_large(need: usize) -> Error {
    Error::OutOfMemory {
        device: "cuda".into(),
        bytes: need,
    }
}

/// Rows a launch takes so that it stays around `macs` multiply-adds: chunks then come often
/// enough for progress and stops, and each is still a full grid.
pub fn rows_for_work(cols: usize, dim: usize, macs: usize) -> usize {
    let per_row = cols.max(1).saturating_mul(dim.max(1));
    let r = (macs / per_row).max(crate::kernels::TILE);
    r - r % crate::kernels::TILE
}
