//! Exact knn on a GPU: a chunk of queries × a chunk of the corpus a launch of the fused
//! kernel, which selects in the distance tile's epilogue into lists per (query, span of
//! columns) kept on the device across the corpus chunks; then one merge of each query's span
//! lists. No distance matrix is ever written.
use super::{row_bytes, rows_for_work, too_large, Side, TARGET_BLOCKS};
use crate::gpu::{blocks, int, Buffer, DevPtr, Gpu, Params, Reading};
use crate::kept::{Keeper, Kept};
use crate::kernels::{metric_code, KNN_TILE, THREADS, TILE, TOPK_MERGE};
use crate::plan::{chunks, plan, smallest, Footprint};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tripletkit_core::distances::Rows;
use tripletkit_core::{
    runtime::budget, Call, Corpus, Error, Knn, KnnOptions, MatRef, MetricOptions,
};

/// A corpus prepared for `cuda` (normalised, with norms, on the host). The first search that
/// may use twice its size on the device uploads it and keeps it there, dropping the host copy:
/// every later search reads it in place and moves only its queries and results. A corpus
/// that does not fit so is uploaded in column chunks by each search.
pub struct CudaCorpus {
    rows: usize,
    cols: usize,
    options: MetricOptions,
    place: Mutex<Place>,
    /// Bytes kept on the device, readable without waiting for a search that holds `place`.
    kept: AtomicUsize,
}

/// Where a corpus's prepared rows are.
pub enum Place {
    Host(Rows<'static>),
    Device { data: Kept, norms: Kept },
}

impl CudaCorpus {
    pub fn new(rows: Rows<'static>) -> Self {
        CudaCorpus {
            rows: rows.rows(),
            cols: rows.cols(),
            options: rows.options(),
            place: Mutex::new(Place::Host(rows)),
            kept: AtomicUsize::new(0),
        }
    }

    /// Bytes the corpus takes on the device: its values and squared norms.
    pub fn bytes(&self) -> usize {
        self.rows.saturating_mul(row_bytes(self.cols))
    }

    /// Where the rows are, locked for one search (searches of one corpus take turns). A search
    /// that panicked leaves a whole place behind, so a poisoned lock is taken as it is.
    pub fn place(&self) -> MutexGuard<'_, Place> {
        self.place.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the rows of `place` (this corpus's, locked) on the device.
    pub fn keep(&self, place: &mut Place, keeper: &Keeper) -> Result<(), Error> {
        place.keep(keeper)?;
        self.kept.store(place.kept_bytes(), Ordering::Relaxed);
        Ok(())
    }

    /// The corpus as `top_k` reads it from `place` (this corpus's, locked).
    pub fn source<'a>(&'a self, place: &'a Place) -> Source<'a> {
        Source {
            rows: self.rows,
            options: self.options,
            at: match place {
                Place::Host(rows) => At::Host(rows),
                Place::Device { data, norms } => At::Device(data.ptr(), norms.ptr()),
            },
        }
    }
}

impl Corpus for CudaCorpus {
    fn device(&self) -> &'static str {
        "cuda"
    }
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn device_bytes(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Place {
    /// Uploads rows held on the host and keeps them on the device, dropping the host copy.
    fn keep(&mut self, keeper: &Keeper) -> Result<(), Error> {
        if let Place::Host(rows) = self {
            let data = keeper.keep(rows.data())?;
            let norms = keeper.keep(rows.sq_norms())?;
            *self = Place::Device { data, norms };
        }
        Ok(())
    }

    /// Bytes kept on the device.
    pub fn kept_bytes(&self) -> usize {
        match self {
            Place::Host(_) => 0,
            Place::Device { data, norms } => data.bytes() + norms.bytes(),
        }
    }
}

/// A corpus as one search reads it.
pub struct Source<'a> {
    rows: usize,
    options: MetricOptions,
    at: At<'a>,
}

enum At<'a> {
    /// On the host: uploaded a column chunk at a time.
    Host(&'a Rows<'a>),
    /// Kept on the device: values and squared norms at these addresses.
    Device(DevPtr, DevPtr),
}

/// Queries a row chunk takes at most: enough for the span lists' merge (a block a query) to
/// fill the GPU several times over.
const CHUNK_QUERIES: usize = 8192;
/// Keys of span lists a row chunk holds at most (queries × spans × k), 1.5 GiB of keys and
/// distances; a query may always hold `SPAN_KEYS`.
const LIST_KEYS: usize = 1 << 27;
const SPAN_KEYS: usize = 8192;

/// Spans of columns a row chunk of `h` queries is cut into: about `TARGET_BLOCKS` blocks with
/// the row tiles, no more than the columns have tiles, and keys within `LIST_KEYS` (or
/// `SPAN_KEYS` a query).
fn spans(h: usize, cols: usize, k: usize) -> usize {
    let row_tiles = h.div_ceil(TILE).max(1);
    TARGET_BLOCKS
        .div_ceil(row_tiles)
        .min(cols.div_ceil(TILE))
        .min((SPAN_KEYS / k).max(LIST_KEYS / (h.max(1) * k)))
        .max(1)
}

/// The primitive `top_k`: arguments checked by the op (k ≤ `KNN_MAX_K`); `device_bytes` is
/// what the search may use beside a corpus kept on the device.
pub fn top_k(
    gpu: &dyn Gpu,
    device_bytes: usize,
    queries: MatRef,
    corpus: &Source,
    o: &KnnOptions,
    call: &Call,
) -> Result<Knn, Error> {
    let k = o.k;
    let bytes = queries.rows().saturating_mul(k).saturating_mul(16);
    let _held = budget::reserve(bytes, "knn")?;
    let q = Rows::prepare(queries, corpus.options);
    let (rows, cols, dim) = (q.rows(), corpus.rows, q.cols());
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
    let kept = matches!(corpus.at, At::Device(..));
    // Every row chunk gets the spans of the largest (a smaller one would want more), and their
    // lists take at most half the memory.
    let h = rows.min(CHUNK_QUERIES);
    let s = spans(h, cols, k).min((device_bytes / 2 / (12 * k * h)).max(1));
    let f = Footprint {
        // A query's values and norm, its span lists and its merged list (a key and a distance
        // a slot); a corpus row's values and norm unless kept on the device; nothing a pair.
        per_row: row_bytes(dim) + 12 * k * (s + 1),
        per_col: if kept { 0 } else { row_bytes(dim) },
        per_cell: 0,
    };
    // A launch's columns: about chunk_macs multiply-adds with the largest row chunk.
    let launch_cols = rows_for_work(rows.min(CHUNK_QUERIES), dim, gpu.chunk_macs());
    let p = plan(rows, cols, f, device_bytes, CHUNK_QUERIES, launch_cols)
        .ok_or_else(|| too_large(smallest(rows, cols, f)))?;
    let math = gpu.math().get().code();
    let mut behind: Option<(Reading<u64>, Reading<f32>)> = None;
    for (r0, r1) in chunks(rows, p.rows) {
        call.stop.check()?;
        let h = r1 - r0;
        let uq = Side::upload(gpu, &q, r0, r1)?;
        // Keys of all ones: empty slots, after every real candidate.
        let list_keys = Buffer::<u64>::filled(gpu, h * k * s, 0xff)?;
        let list_d = Buffer::<f32>::filled(gpu, h * k * s, 0xff)?;
        // Progress in queries, a share of the row chunk at each column launch.
        let mut reported = 0;
        for (c0, c1) in chunks(cols, p.cols) {
            call.stop.check()?;
            let part;
            // The chunk's corpus rows: a view into the kept corpus, or uploaded now.
            let (data, norms) = match corpus.at {
                At::Device(data, norms) => (data + (4 * c0 * dim) as u64, norms + (4 * c0) as u64),
                At::Host(host) => {
                    part = Side::upload(gpu, host, c0, c1)?;
                    (part.data.ptr(), part.norms.ptr())
                }
            };
            let w = c1 - c0;
            // Spans of whole tiles, at most `s` of them: block y keeps list y (one span of
            // all the columns needs no rounding, which keeps it within an int).
            let span = (w.div_ceil(s).div_ceil(TILE) * TILE).min(w);
            let mut tile = Params::new();
            tile.ptr(uq.data.ptr())
                .ptr(uq.norms.ptr())
                .int(h as i32)
                .ptr(data)
                .ptr(norms)
                .int(w as i32)
                .int(dim as i32)
                .int((o.query_offset + r0) as i32)
                .int(c0 as i32)
                .int(metric_code(corpus.options.metric))
                .int(i32::from(o.exclude_self))
                .int(span as i32)
                .int(k as i32)
                .buf(&list_keys)
                .buf(&list_d)
                .int(math);
            // SAFETY: tk_knn_tile's signature; the queries hold h rows and the corpus chunk w
            // rows of `dim` values with their norms; the lists hold s·h·k slots and the grid's
            // y is at most s.
            unsafe {
                tile.launch(
                    gpu,
                    KNN_TILE,
                    [blocks(h, TILE), blocks(w, span), 1],
                    [THREADS, 1, 1],
                )?
            };
            let done = h * c1 / cols;
            if done > reported {
                call.advance(done - reported, rows);
                reported = done;
            }
        }
        let keys = Buffer::<u64>::filled(gpu, h * k, 0xff)?;
        let dists = Buffer::<f32>::filled(gpu, h * k, 0xff)?;
        let mut merge = Params::new();
        merge
            .buf(&list_keys)
            .buf(&list_d)
            .int(h as i32)
            .int(s as i32)
            .int(k as i32)
            .buf(&keys)
            .buf(&dists);
        // SAFETY: tk_topk_merge's signature; the lists hold s·h·k slots, `keys` and `dists`
        // h·k; k ≤ KNN_MAX_K.
        unsafe { merge.launch(gpu, TOPK_MERGE, [h as u32, 1, 1], [THREADS, 1, 1])? };
        // Copied back now, read once the next chunk is queued: the GPU runs that chunk while
        // the host reads this one.
        let lists = (keys.read_later()?, dists.read_later()?);
        if let Some((keys, dists)) = behind.replace(lists) {
            read_lists(&mut out, keys, dists)?;
        }
    }
    if let Some((keys, dists)) = behind {
        read_lists(&mut out, keys, dists)?;
    }
    call.stop.check()?;
    Ok(out)
}

/// Appends a row chunk's lists: an index and a distance a slot, −1 and ∞ for an empty one.
fn read_lists(out: &mut Knn, keys: Reading<u64>, dists: Reading<f32>) -> Result<(), Error> {
    let (kv, dv) = (keys.wait()?, dists.wait()?);
    for (key, d) in kv.into_iter().zip(dv) {
        if key == u64::MAX {
            out.indices.push(-1);
            out.distances.push(f32::INFINITY);
        } else {
            out.indices.push((key & 0xffff_ffff) as i32);
            out.distances.push(d);
        }
    }
    Ok(())
}
