//! Exact knn on a GPU: a chunk of queries × a chunk of the corpus a launch of the distance
//! kernel into a scratch matrix, then top-k merges of 1024 columns at a time into each
//! query's running list, kept on the device across the corpus chunks.
use super::{distance_tile, row_bytes, rows_for_work, too_large, RowsAt, Side, MAX_GRID_Y_ROWS};
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{THREADS, TOPK_MERGE};
use crate::plan::{chunks, plan, smallest, Footprint};
use std::any::Any;
use tripletkit_core::distances::Rows;
use tripletkit_core::{runtime::budget, Call, Corpus, Error, Knn, KnnOptions, MatRef};

/// A corpus prepared for `cuda`: prepared (normalised, with norms) on the host, uploaded in
/// chunks by each search.
pub struct CudaCorpus(pub Rows<'static>);

impl Corpus for CudaCorpus {
    fn device(&self) -> &'static str {
        "cuda"
    }
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn cols(&self) -> usize {
        self.0.cols()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Columns of the distance scratch, merged by one launch.
const MAX_SCRATCH_COLS: usize = 1 << 16;

/// The primitive `top_k`: arguments checked by the op (k ≤ `KNN_MAX_K`).
pub fn top_k(
    gpu: &dyn Gpu,
    device_bytes: usize,
    queries: MatRef,
    corpus: &Rows,
    o: &KnnOptions,
    call: &Call,
) -> Result<Knn, Error> {
    let k = o.k;
    let bytes = queries.rows().saturating_mul(k).saturating_mul(16);
    let _held = budget::reserve(bytes, "knn")?;
    let q = Rows::prepare(queries, corpus.options());
    let (rows, cols, dim) = (q.rows(), corpus.rows(), q.cols());
    let mut out = Knn {
        indices: Vec::with_capacity(rows * k),
        distances: Vec::with_capacity(rows * k),
    };
    if rows == 0 {
        return Ok(out);
    }
    int(rows.max(cols), "queries")?;
    int(o.query_offset.saturating_add(rows), "queryOffset")?;
    int(dim, "queries")?;
    // The corpus stays on the device for the whole call when it takes at most half the
    // budget: column chunks then read it in place instead of uploading it again for every
    // chunk of queries.
    let corpus_bytes = cols.saturating_mul(row_bytes(dim));
    let resident = if corpus_bytes <= device_bytes / 2 {
        Some(Side::upload(gpu, corpus, 0, cols)?)
    } else {
        None
    };
    let f = Footprint {
        // A query's values, norm and top-k list (key and distance); a corpus row's values and
        // norm unless resident; a distance each pair.
        per_row: row_bytes(dim) + 12 * k,
        per_col: if resident.is_some() {
            0
        } else {
            row_bytes(dim)
        },
        per_cell: 4,
    };
    let budget = device_bytes - if resident.is_some() { corpus_bytes } else { 0 };
    let max_rows = rows_for_work(cols.min(MAX_SCRATCH_COLS), dim, gpu.chunk_macs());
    let p = plan(
        rows,
        cols,
        f,
        budget,
        MAX_GRID_Y_ROWS.min(max_rows),
        MAX_SCRATCH_COLS,
    )
    .ok_or_else(|| too_large(smallest(rows, cols, f)))?;
    let scratch = Buffer::<f32>::uninit(gpu, p.rows * p.cols)?;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        let uq = Side::upload(gpu, &q, r0, r1)?;
        // Keys of all ones: empty slots, after every real candidate.
        let keys = Buffer::<u64>::filled(gpu, h * k, 0xff)?;
        let dists = Buffer::<f32>::filled(gpu, h * k, 0xff)?;
        for (c0, c1) in chunks(cols, p.cols) {
            call.stop.check()?;
            let part;
            // The chunk's corpus rows: a view into the resident corpus, or uploaded now.
            let (data, norms) = match &resident {
                Some(s) => (
                    s.data.ptr() + (4 * c0 * dim) as u64,
                    s.norms.ptr() + (4 * c0) as u64,
                ),
                None => {
                    part = Side::upload(gpu, corpus, c0, c1)?;
                    (part.data.ptr(), part.norms.ptr())
                }
            };
            let w = c1 - c0;
            let rc = RowsAt {
                data,
                norms,
                rows: w,
                first: c0,
            };
            let rq = uq.rows_at(0, h, dim, r0);
            distance_tile(
                gpu,
                rq,
                rc,
                dim,
                scratch.ptr(),
                w,
                corpus.options().metric,
                false,
            )?;
            let mut merge = Params::new();
            merge
                .buf(&scratch)
                .int(w as i32)
                .int(c0 as i32)
                .int(w as i32)
                .int(k as i32)
                .int((o.query_offset + r0) as i32)
                .int(i32::from(o.exclude_self))
                .buf(&keys)
                .buf(&dists);
            // SAFETY: tk_topk_merge's signature; `scratch` holds h rows of w distances, `keys`
            // and `dists` h·k values; k ≤ KNN_MAX_K.
            unsafe { merge.launch(gpu, TOPK_MERGE, [h as u32, 1, 1], [THREADS, 1, 1])? };
        }
        let (kv, dv) = (keys.to_vec()?, dists.to_vec()?);
        for (key, d) in kv.into_iter().zip(dv) {
            if key == u64::MAX {
                out.indices.push(-1);
                out.distances.push(f32::INFINITY);
            } else {
                out.indices.push((key & 0xffff_ffff) as i32);
                out.distances.push(d);
            }
        }
        call.advance(h, rows);
    }
    call.stop.check()?;
    Ok(out)
}
