//! Distance tiles by GEMM, and the full pairwise matrix.
//!
//! ‖a−b‖² = ‖a‖² + ‖b‖² − 2a·b: the a·b block is one GEMM. Its rounding is then fixed
//! entry by entry: clamp at 0, exact 0 on the diagonal of a self-distance matrix, and an exact
//! recomputation wherever the result is tiny next to the norms (where cancellation loses the
//! digits). Cosine works on L2-normalised rows, where it is 1 − a·b.

use crate::distances::dot_tile::dot_tile;
use crate::distances::pair;
use crate::runtime::par;
use crate::runtime::plan;
use crate::{Call, Device, Error, MatRef, Metric, MetricOptions, Stop};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this fraction of ‖a‖² + ‖b‖² (euclidean) or below this cosine distance, a GEMM
/// result has lost too many digits to cancellation and is recomputed directly.
const RECOMPUTE_BELOW: f32 = 1.0 / 256.0;

/// Below this ‖a‖² + ‖b‖², the squared norms and products have sunk into f32's subnormal range
/// (rows of magnitude under about 1e-15) and lost their digits: such entries are recomputed.
const SMALLEST_EXACT_SCALE: f32 = 1e-30;

/// The tile a thread computes and folds at a time: ROW_BLOCK rows × ROW_TILE columns (1 MiB).
/// The GEMM packs a tile's columns once for all its rows, so tall blocks amortise the packing;
/// batch-hard mining at N = 32,768 took 2.5–2.9 s with 64 × 4,096 tiles and 1.4–1.6 s with 512 × 512
/// (bench/README.md).
const ROW_BLOCK: usize = 512;
const ROW_TILE: usize = 512;

/// Rows ready for distance passes under one `MetricOptions`: normalised when the metric or
/// the caller asks, with their squared norms. A corpus prepared once serves every batch of
/// queries searched against it.
#[derive(Clone, Debug)]
pub struct Rows<'a> {
    data: Cow<'a, [f32]>,
    sq_norms: Vec<f32>,
    rows: usize,
    cols: usize,
    opts: MetricOptions,
}

impl<'a> Rows<'a> {
    /// Prepares borrowed rows (copied only when they must be normalised).
    pub fn prepare(m: MatRef<'a>, opts: MetricOptions) -> Self {
        let data = if needs_unit_rows(opts) {
            let mut owned = m.data().to_vec();
            pair::normalize_rows_in_place(&mut owned, m.cols());
            Cow::Owned(owned)
        } else {
            Cow::Borrowed(m.data())
        };
        Self::with_norms(data, m.rows(), m.cols(), opts)
    }

    /// Prepares owned rows in place: no copy. Checks the shape and values like `MatRef::new`.
    pub fn prepare_owned(
        name: &str,
        mut data: Vec<f32>,
        rows: usize,
        cols: usize,
        opts: MetricOptions,
    ) -> Result<Rows<'static>, Error> {
        MatRef::named(name, &data, rows, cols)?;
        if needs_unit_rows(opts) {
            pair::normalize_rows_in_place(&mut data, cols);
        }
        Ok(Rows::with_norms(Cow::Owned(data), rows, cols, opts))
    }

    fn with_norms(data: Cow<'a, [f32]>, rows: usize, cols: usize, opts: MetricOptions) -> Self {
        let sq_norms = if cols == 0 {
            vec![0.0; rows]
        } else {
            row_sq_norms(&data, cols)
        };
        Rows {
            data,
            sq_norms,
            rows,
            cols,
            opts,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The options these rows were prepared under.
    pub fn options(&self) -> MetricOptions {
        self.opts
    }
    /// Whether the rows were made unit (cosine or `normalize`): a gradient with respect to
    /// them goes back through the normalisation.
    pub fn is_unit(&self) -> bool {
        needs_unit_rows(self.opts)
    }
    /// Every row, as prepared, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The prepared rows' squared norms.
    pub fn sq_norms(&self) -> &[f32] {
        &self.sq_norms
    }
    /// Row `i`, as prepared (normalised where asked).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

crate::runtime::simd::widest! {
    /// Each row's squared norm (`pair::sq_norm`'s fixed lanes in f64, then rounded), on the
    /// widest vector unit: the same bits on each.
    fn row_sq_norms(data: &[f32], cols: usize) -> Vec<f32> {
        // A plain loop: an iterator adapter's fold would be a function of its own, compiled
        // for the baseline.
        let mut out = Vec::with_capacity(data.len() / cols);
        for r in data.chunks_exact(cols) {
            out.push(pair::sq_norm(r) as f32);
        }
        out
    }
}

/// Cosine and `normalize` work on unit rows.
fn needs_unit_rows(o: MetricOptions) -> bool {
    o.normalize || o.metric == Metric::Cosine
}

/// Distances between the rows of `a` and the rows of `b` (or of `a` itself), tile by tile.
pub struct Distances<'a> {
    a: Cow<'a, Rows<'a>>,
    b: Option<Cow<'a, Rows<'a>>>,
    metric: Metric,
    call: Call<'a>,
}

impl<'a> Distances<'a> {
    /// `b = None`: `a` against itself (diagonal exactly 0 where API.md asks for it).
    pub fn new(a: MatRef<'a>, b: Option<MatRef<'a>>, o: MetricOptions) -> Self {
        Distances {
            a: Cow::Owned(Rows::prepare(a, o)),
            b: b.map(|b| Cow::Owned(Rows::prepare(b, o))),
            metric: o.metric,
            call: Call::PLAIN,
        }
    }

    /// Prepared sides, e.g. a batch of queries against a corpus prepared once. Both must be
    /// prepared under the same options and have the same columns.
    pub fn between(a: Cow<'a, Rows<'a>>, b: Option<Cow<'a, Rows<'a>>>) -> Result<Self, Error> {
        if let Some(b) = &b {
            if b.opts != a.opts {
                return Err(Error::invalid(
                    "corpus",
                    "expected rows prepared under the queries' metric options",
                ));
            }
            if a.rows > 0 && b.rows > 0 && a.cols != b.cols {
                return Err(Error::invalid(
                    "corpus",
                    format!(
                        "expected {} columns (the columns of queries), received {}",
                        a.cols, b.cols
                    ),
                ));
            }
        }
        Ok(Distances {
            metric: a.opts.metric,
            a,
            b,
            call: Call::PLAIN,
        })
    }

    /// Skips the blocks left once the call's stop flag is raised (the pass then returns
    /// `Cancelled`), and reports finished rows to its progress sink.
    pub fn with_call(mut self, call: Call<'a>) -> Self {
        self.call = call;
        self
    }

    /// The prepared rows of both sides (the same rows twice for a self-distance pass).
    pub fn sides(&self) -> (&Rows<'a>, &Rows<'a>) {
        (&self.a, self.b())
    }

    /// Whether this is a batch against itself (`b = None`). Its matrix is then symmetric bit
    /// for bit: a product is one chain of fused multiply-adds whose terms commute, and every
    /// fix-up is symmetric in the two rows.
    pub fn is_self(&self) -> bool {
        self.b.is_none()
    }

    /// The call this pass runs under.
    pub fn call(&self) -> Call<'a> {
        self.call
    }

    /// The stop flag this pass checks.
    pub fn stop(&self) -> Stop<'a> {
        self.call.stop
    }

    pub fn rows(&self) -> usize {
        self.a.rows
    }
    /// Columns of the distance matrix: the rows of the right operand.
    #[allow(clippy::misnamed_getters)]
    pub fn cols(&self) -> usize {
        self.b().rows
    }
    /// Multiply-adds of the whole matrix, to choose between the pool and the calling thread.
    fn work(&self) -> usize {
        self.rows()
            .saturating_mul(self.cols())
            .saturating_mul(self.dim().max(1))
    }

    fn dim(&self) -> usize {
        self.a.cols
    }

    fn b(&self) -> &Rows<'a> {
        self.b.as_deref().unwrap_or(&self.a)
    }

    /// Row `i` of the (possibly normalised) left operand.
    pub fn a_row(&self, i: usize) -> &[f32] {
        self.a.row(i)
    }
    /// Row `j` of the (possibly normalised) right operand.
    pub fn b_row(&self, j: usize) -> &[f32] {
        self.b().row(j)
    }

    /// Writes d(a_i, b_j) for i in r0..r1, j in c0..c1 into `out`, row-major with row
    /// stride c1 − c0.
    pub fn tile(&self, r0: usize, r1: usize, c0: usize, c1: usize, out: &mut [f32]) {
        self.tile_strided(r0, r1, c0, c1, out, c1 - c0);
    }

    /// As `tile`, with row stride `stride` ≥ c1 − c0: row i − r0 of the tile starts at
    /// `out[(i − r0) · stride]`, so a tile can be written into a wider block of rows.
    pub fn tile_strided(
        &self,
        r0: usize,
        r1: usize,
        c0: usize,
        c1: usize,
        out: &mut [f32],
        stride: usize,
    ) {
        let (m, n, k) = (r1 - r0, c1 - c0, self.dim());
        assert!(
            r1 <= self.rows()
                && c1 <= self.cols()
                && stride >= n
                && (m == 0 || out.len() >= (m - 1) * stride + n),
            "tile out of range"
        );
        if m == 0 || n == 0 {
            return;
        }
        let out = &mut out[..(m - 1) * stride + n];
        let lhs = &self.a.data[r0 * k..r1 * k];
        let rhs = &self.b().data[c0 * k..c1 * k];
        // Each product in one fixed order, so a distance depends on its two rows alone.
        dot_tile(lhs, m, rhs, n, k, out, stride);
        fix_rows(self, r0, c0, n, stride, out);
    }

    /// d(a_i, b_j) for every i of `rows` and j of `cols`, into `out` (row-major, `cols` wide):
    /// the bits `tile` gives each pair, for scattered rows. The rows are gathered and go
    /// through the same GEMM (a product's order depends on its two rows alone), then each
    /// entry through the same fix-ups.
    pub fn distances_gathered(&self, rows: &[u32], cols: &[u32], out: &mut [f32]) {
        let (m, n, k) = (rows.len(), cols.len(), self.dim());
        assert!(out.len() >= m * n, "gathered distances out of range");
        if m == 0 || n == 0 {
            return;
        }
        let gather = |side: &Rows, idx: &[u32]| -> Vec<f32> {
            let mut g = Vec::with_capacity(idx.len() * k);
            for &i in idx {
                g.extend_from_slice(side.row(i as usize));
            }
            g
        };
        let (lhs, rhs) = (gather(&self.a, rows), gather(self.b(), cols));
        dot_tile(&lhs, m, &rhs, n, k, out, n);
        for (&i, row) in rows.iter().zip(out.chunks_mut(n)) {
            for (&j, v) in cols.iter().zip(row.iter_mut()) {
                let mut one = [*v];
                self.fix_row(i as usize, j as usize, &mut one);
                *v = one[0];
            }
        }
    }

    /// d(a_i, b_j) for each j of `cols`, into `out`: the bits `tile` gives each pair (the same
    /// chain of fused multiply-adds, then the same fix-ups), for a few scattered pairs.
    pub fn distances_at(&self, i: usize, cols: &[u32], out: &mut [f32]) {
        let a = self.a_row(i);
        for (js, o) in cols.chunks(CHAINS).zip(out.chunks_mut(CHAINS)) {
            let mut rows = [a; CHAINS];
            for (r, &j) in rows.iter_mut().zip(js) {
                *r = self.b_row(j as usize);
            }
            let dots = chain_dots(a, &rows);
            for (o, (&j, &dot)) in o.iter_mut().zip(js.iter().zip(&dots)) {
                let mut v = [dot];
                self.fix_row(i, j as usize, &mut v);
                *o = v[0];
            }
        }
    }

    /// Turns a row of dot products a_i·b_j (j from c0) into distances, in place.
    #[inline(always)]
    fn fix_row(&self, i: usize, c0: usize, row: &mut [f32]) {
        let self_mode = self.b.is_none();
        let na = self.a.sq_norms[i];
        let nb = &self.b().sq_norms[c0..c0 + row.len()];
        let a_row = self.a_row(i);
        match self.metric {
            Metric::Dot => {
                for (jj, v) in row.iter_mut().enumerate() {
                    // Products past f32's range can meet as inf − inf: recompute those.
                    *v = if v.is_finite() {
                        -*v
                    } else {
                        pair::distance(a_row, self.b_row(c0 + jj), Metric::Dot) as f32
                    };
                }
            }
            Metric::SqEuclidean | Metric::Euclidean => {
                // Three passes the compiler vectorises: d² from the GEMM form, a count of the
                // entries it cannot trust, the square roots; the rare untrusted entries and
                // the self-distance are then fixed one by one.
                let mut untrusted = 0usize;
                for (v, &n) in row.iter_mut().zip(nb) {
                    let scale = na + n;
                    let d2 = scale - 2.0 * *v;
                    // Untrusted where cancellation ate the digits, where norms or products
                    // overflowed f32 (d2 is then ±inf or NaN, and fails the comparison), and
                    // where they underflowed.
                    let trusted = d2 >= RECOMPUTE_BELOW * scale
                        && d2 <= f32::MAX
                        && scale >= SMALLEST_EXACT_SCALE;
                    untrusted += usize::from(!trusted);
                    *v = if trusted { d2 } else { f32::NAN };
                }
                if self.metric == Metric::Euclidean {
                    row.iter_mut().for_each(|v| *v = v.sqrt());
                }
                let own = self_mode && (c0..c0 + row.len()).contains(&i);
                // The self-distance (untrusted whenever cancellation leaves nothing) is set
                // below: alone, it needs no search for untrusted entries.
                if untrusted > 0 && !(untrusted == 1 && own && row[i - c0].is_nan()) {
                    for (jj, v) in row.iter_mut().enumerate() {
                        // A row's distance to itself is set to 0 below, not recomputed.
                        if v.is_nan() && !(self_mode && c0 + jj == i) {
                            *v = pair::distance(a_row, self.b_row(c0 + jj), self.metric) as f32;
                        }
                    }
                }
                if own {
                    row[i - c0] = 0.0;
                }
            }
            Metric::Cosine => {
                for (jj, v) in row.iter_mut().enumerate() {
                    let j = c0 + jj;
                    let zero = na == 0.0 || nb[jj] == 0.0;
                    let mut d = 1.0 - *v;
                    if zero {
                        d = 1.0;
                    } else if self_mode && i == j {
                        d = 0.0;
                    } else if d < RECOMPUTE_BELOW {
                        // For unit vectors 1 − a·b = ½‖a − b‖², which keeps its digits.
                        d = (0.5 * pair::sq_dist(a_row, self.b_row(j))) as f32;
                    }
                    *v = d.clamp(0.0, 2.0);
                }
            }
        }
    }

    /// The whole rows × cols matrix, using every thread: blocks of rows in parallel, each one
    /// GEMM written straight into its rows of the result (faster here than one parallel GEMM,
    /// and each block's fix-up runs while its tile is still in cache).
    pub fn full(&self) -> Result<Vec<f32>, Error> {
        let (rows, cols) = (self.rows(), self.cols());
        let bytes = rows.saturating_mul(cols).saturating_mul(4);
        let _held = crate::runtime::budget::reserve(bytes, "pairwiseDistances")?;
        let mut out = vec![0.0f32; rows * cols];
        if cols == 0 {
            return Ok(out);
        }
        let (block, _) = tile_shape(rows, cols);
        par::map_chunks_mut(
            &mut out,
            block * cols,
            par::serial(self.work()),
            |b, chunk| {
                let r0 = b * block;
                if self.call.stop.requested() {
                    return;
                }
                let r1 = r0 + chunk.len() / cols;
                // Tile by tile, each one turned into distances while it is in cache.
                for (c0, c1) in blocks(cols, ROW_TILE) {
                    if self.call.stop.requested() {
                        return;
                    }
                    self.tile_strided(r0, r1, c0, c1, &mut chunk[c0..], cols);
                }
                self.call.advance(r1 - r0, rows);
            },
        );
        self.call.stop.check()?;
        Ok(out)
    }

    /// The tile (rows, columns) each thread computes at a time: `tile_shape`, or with a
    /// memory budget (`Call::memory`, the `maxMemory` option) the largest the planner fits in
    /// it, every thread's tile counted.
    fn tile_plan(&self) -> Result<(usize, usize), Error> {
        let (rows, cols) = (self.rows(), self.cols());
        let (block, chunk) = tile_shape(rows, cols);
        let Some(budget) = self.call.max_memory else {
            return Ok((block, chunk));
        };
        let f = self.tile_footprint();
        plan::plan(rows, cols, f, budget, block, chunk)
            .map(|p| (p.rows, p.cols))
            .ok_or_else(|| too_large(plan::smallest(rows, cols, f)))
    }

    /// Rows per block for passes over whole rows: `full_row_block`, or with a memory budget
    /// the most (a multiple of 64, or all) that fit it.
    fn row_block_plan(&self) -> Result<usize, Error> {
        let (rows, cols) = (self.rows(), self.cols());
        let Some(budget) = self.call.max_memory else {
            return Ok(full_row_block(rows, cols));
        };
        let f = self.tile_footprint();
        let cap = full_row_block(rows, cols).max(64);
        plan::plan_whole_rows(rows, cols, f, budget, cap)
            .map(|p| p.rows.max(1))
            .ok_or_else(|| {
                too_large(f.bytes(plan::Plan {
                    rows: rows.clamp(1, 64),
                    cols,
                }))
            })
    }

    /// Every thread holds one tile of distances.
    fn tile_footprint(&self) -> plan::Footprint {
        plan::Footprint {
            per_row: 0,
            per_col: 0,
            per_cell: 4 * crate::threads(),
        }
    }

    /// Folds every tile of distances into per-block state, blocks of rows in parallel and the
    /// columns of each block one tile at a time, so no more than a tile per thread is live.
    /// `init(r0, r1)` makes a block's state; `fold(state, r0, c0, tile)` takes a row-major
    /// tile of rows r0.. and columns c0.. (width `tile.len() / (r1 − r0)`). States come back
    /// in block order, which is row order. Once `stop` is raised, the tiles left are skipped
    /// and the pass is `Err(Cancelled)`.
    pub fn fold_tiles<S: Send>(
        &self,
        init: impl Fn(usize, usize) -> S + Sync,
        fold: impl Fn(&mut S, usize, usize, &[f32]) + Sync,
    ) -> Result<Vec<S>, Error> {
        let (rows, cols) = (self.rows(), self.cols());
        let (block, chunk) = self.tile_plan()?;
        let serial = par::serial(self.work());
        par::map(blocks(rows, block), serial, |(r0, r1)| {
            let mut state = init(r0, r1);
            if !self.fold_range((r0, r1), (0, cols), chunk, &mut state, &fold) {
                return None;
            }
            self.call.advance(r1 - r0, rows);
            Some(state)
        })
        .into_iter()
        .collect::<Option<Vec<S>>>()
        .ok_or(Error::Cancelled)
    }

    /// Folds the tiles of rows r0..r1 by columns lo..hi, `chunk` columns a tile, into
    /// `state` in column order; false once `stop` is raised.
    fn fold_range<S>(
        &self,
        (r0, r1): (usize, usize),
        (lo, hi): (usize, usize),
        chunk: usize,
        state: &mut S,
        fold: &impl Fn(&mut S, usize, usize, &[f32]),
    ) -> bool {
        with_tile_buffer((r1 - r0) * chunk, |buf| {
            for (c0, c1) in blocks(hi - lo, chunk) {
                if self.call.stop.requested() {
                    return false;
                }
                let (c0, c1) = (lo + c0, lo + c1);
                let tile = &mut buf[..(r1 - r0) * (c1 - c0)];
                self.tile(r0, r1, c0, c1, tile);
                fold(state, r0, c0, tile);
            }
            true
        })
    }

    /// `fold_tiles` for passes with fewer row blocks than threads (a few queries against a
    /// large corpus): each block's columns are cut into `parts` ranges of whole tiles, folded
    /// in parallel, each into a state of its own. States come back per block, in block order,
    /// each block's in column order, for the caller to merge. Progress counts a block's rows
    /// once its last range is done.
    pub fn fold_tiles_split<S: Send>(
        &self,
        parts: usize,
        init: impl Fn(usize, usize) -> S + Sync,
        fold: impl Fn(&mut S, usize, usize, &[f32]) + Sync,
    ) -> Result<Vec<Vec<S>>, Error> {
        let (rows, cols) = (self.rows(), self.cols());
        if parts <= 1 || cols == 0 {
            // Nothing to split: one part a block (a corpus of no rows still gets its states).
            let whole = self.fold_tiles(init, fold)?;
            return Ok(whole.into_iter().map(|s| vec![s]).collect());
        }
        let (block, chunk) = self.tile_plan()?;
        let serial = par::serial(self.work());
        let row_blocks = blocks(rows, block);
        // Whole tiles a range, so every tile falls where `fold_tiles` would put it.
        let tiles = cols.div_ceil(chunk.max(1));
        let per_part = tiles.div_ceil(parts.clamp(1, tiles.max(1))) * chunk;
        let ranges = blocks(cols, per_part);
        let left: Vec<AtomicUsize> = row_blocks
            .iter()
            .map(|_| AtomicUsize::new(ranges.len()))
            .collect();
        // (block, its rows, a column range), block after block.
        let items: Vec<_> = row_blocks
            .iter()
            .enumerate()
            .flat_map(|(b, &r)| ranges.iter().map(move |&c| (b, r, c)))
            .collect();
        let states = par::map(
            items,
            serial,
            |(b, (r0, r1), (lo, hi)): (usize, _, (usize, usize))| {
                let mut state = init(r0, r1);
                if !self.fold_range((r0, r1), (lo, hi), chunk, &mut state, &fold) {
                    return None;
                }
                if left[b].fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.call.advance(r1 - r0, rows);
                }
                Some(state)
            },
        )
        .into_iter()
        .collect::<Option<Vec<S>>>()
        .ok_or(Error::Cancelled)?;
        let mut states = states.into_iter();
        Ok(row_blocks
            .iter()
            .map(|_| states.by_ref().take(ranges.len()).collect())
            .collect())
    }

    /// Maps `f(r0, rows)` over blocks of whole rows of distances (row-major, `cols` wide),
    /// for passes that need a row entire; blocks run in parallel, results in row order.
    /// Once `stop` is raised, the blocks left are skipped and the pass is `Err(Cancelled)`.
    pub fn map_row_blocks<T: Send>(
        &self,
        f: impl Fn(usize, &mut [f32]) -> T + Sync,
    ) -> Result<Vec<T>, Error> {
        let (rows, cols) = (self.rows(), self.cols());
        let block = self.row_block_plan()?;
        let serial = par::serial(self.work());
        par::map(blocks(rows, block), serial, |(r0, r1)| {
            if self.call.stop.requested() {
                return None;
            }
            let out = with_tile_buffer((r1 - r0) * cols, |buf| {
                // Tile by tile, each one turned into distances while it is in cache.
                for (c0, c1) in blocks(cols, ROW_TILE) {
                    if self.call.stop.requested() {
                        return None;
                    }
                    self.tile_strided(r0, r1, c0, c1, &mut buf[c0..], cols);
                }
                Some(f(r0, buf))
            })?;
            self.call.advance(r1 - r0, rows);
            Some(out)
        })
        .into_iter()
        .collect::<Option<Vec<T>>>()
        .ok_or(Error::Cancelled)
    }
}

/// Floats of tile buffer a thread keeps between passes (4 MiB).
const KEPT_TILE_FLOATS: usize = 1 << 20;

thread_local! {
    /// This thread's tile buffer, kept between passes: a fresh one is zeroed, cold, on every
    /// call, which for a batch of 64 rows cost more than its GEMM.
    static TILE_BUFFER: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `f` over this thread's tile buffer of `len` floats. Its contents are whatever the last
/// pass left: every pass writes each tile whole before reading it.
fn with_tile_buffer<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    let mut buf = TILE_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let out = f(&mut buf[..len]);
    if buf.capacity() <= KEPT_TILE_FLOATS {
        TILE_BUFFER.with(|b| *b.borrow_mut() = buf);
    }
    out
}

/// Products `distances_at` sums side by side: independent chains keep the FMA units busy.
const CHAINS: usize = 8;

crate::runtime::simd::widest! {
    /// a · rows[c] for each c, each one chain of fused multiply-adds in column order from 0,
    /// as `dot_tile` sums it.
    fn chain_dots(a: &[f32], rows: &[&[f32]; CHAINS]) -> [f32; CHAINS] {
        let mut s = [0.0f32; CHAINS];
        for (col, &x) in a.iter().enumerate() {
            for (acc, r) in s.iter_mut().zip(rows) {
                *acc = x.mul_add(r[col], *acc);
            }
        }
        s
    }
}

crate::runtime::simd::widest! {
    /// Turns a tile of dot products (rows from r0 at row stride `stride`, `n` columns from
    /// c0) into distances.
    fn fix_rows(d: &Distances, r0: usize, c0: usize, n: usize, stride: usize, out: &mut [f32]) -> () {
        for (ri, row) in out.chunks_mut(stride).enumerate() {
            d.fix_row(r0 + ri, c0, &mut row[..n]);
        }
    }
}

/// Full `a.rows × b.rows` distance matrix (row-major) on `dev`; `b = None` means `a` against
/// itself.
pub fn pairwise_distances(
    dev: &dyn Device,
    a: MatRef,
    b: Option<MatRef>,
    o: &MetricOptions,
    call: &Call,
) -> Result<Vec<f32>, Error> {
    if let Some(b) = b {
        crate::rules::same_cols("b", b, "a", a)?;
    }
    let (pa, pb) = (Rows::prepare(a, *o), b.map(|b| Rows::prepare(b, *o)));
    dev.distances(&pa, pb.as_ref(), call)
}

/// The cpu device's `distances`.
pub fn full(a: &Rows, b: Option<&Rows>, call: &Call) -> Result<Vec<f32>, Error> {
    Distances::between(Cow::Borrowed(a), b.map(Cow::Borrowed))?
        .with_call(*call)
        .full()
}

/// A float32 distance matrix D(a, b) as a loss reads it, in float64. An entry outside float32's
/// normal range (0, subnormal or infinite) may be a product that underflowed or overflowed on
/// its way into float32, so it is computed again from the two rows in float64; every other
/// entry is read as it is. Cosine distances lie in [0, 2] and are always read as they are.
pub struct Exact<'a> {
    d: &'a [f32],
    a: &'a Rows<'a>,
    b: &'a Rows<'a>,
}

impl<'a> Exact<'a> {
    /// `d` is `a.rows × b.rows` (b = None: a against itself), as `distances` gave it.
    pub fn new(d: &'a [f32], a: &'a Rows<'a>, b: Option<&'a Rows<'a>>) -> Self {
        Exact {
            d,
            a,
            b: b.unwrap_or(a),
        }
    }

    /// D(a_i, b_j) in float64.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        let v = self.d[i * self.b.rows() + j];
        let metric = self.a.options().metric;
        if metric == Metric::Cosine || v.abs() >= f32::MIN_POSITIVE && v.is_finite() {
            f64::from(v)
        } else {
            pair::distance(self.a.row(i), self.b.row(j), metric)
        }
    }

    /// Rows of the matrix (the rows of a).
    pub fn rows(&self) -> usize {
        self.a.rows()
    }
    /// Columns of the matrix (the rows of b).
    pub fn cols(&self) -> usize {
        self.b.rows()
    }
}

/// Rows per block and columns per tile for a pass that folds each tile away: a tile stays
/// around 1 MiB, the size where GEMM is efficient and the tile still sits in cache.
fn tile_shape(rows: usize, cols: usize) -> (usize, usize) {
    // At least two blocks a thread while rows allow (so blocks of uneven length balance),
    // each at least 64 rows and at most ROW_BLOCK.
    let per_thread = rows.div_ceil(2 * crate::threads()).max(64);
    let block = per_thread.min(ROW_BLOCK).min(rows.max(1));
    (block, cols.clamp(1, ROW_TILE))
}

/// Rows per block for a pass that needs whole rows of distances at once (about 8 MiB).
fn full_row_block(rows: usize, cols: usize) -> usize {
    (2_097_152 / cols.max(1)).clamp(1, 64).min(rows.max(1))
}

/// The error of a budget no tile fits: what the smallest tile needs.
fn too_large(bytes: usize) -> Error {
    Error::OutOfMemory {
        device: "cpu".into(),
        bytes,
    }
}

/// Splits `0..n` into consecutive `(start, end)` blocks of at most `block` items.
pub(crate) fn blocks(n: usize, block: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(block.max(1))
        .map(|s| (s, (s + block).min(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::lcg;

    fn pairwise(a: MatRef, b: Option<MatRef>, metric: Metric, normalize: bool) -> Vec<f32> {
        pairwise_distances(
            &crate::Cpu,
            a,
            b,
            &MetricOptions { metric, normalize },
            &Call::PLAIN,
        )
        .unwrap()
    }

    fn naive(
        a: &[f32],
        b: &[f32],
        rows: usize,
        cols: usize,
        dim: usize,
        metric: Metric,
    ) -> Vec<f32> {
        let mut out = vec![];
        for i in 0..rows {
            for j in 0..cols {
                out.push(pair::distance(
                    &a[i * dim..(i + 1) * dim],
                    &b[j * dim..(j + 1) * dim],
                    metric,
                ) as f32);
            }
        }
        out
    }

    #[test]
    fn hand_worked_3_4_5() {
        let a = [0.0, 0.0, 3.0, 4.0];
        let m = MatRef::new(&a, 2, 2).unwrap();
        assert_eq!(
            pairwise(m, None, Metric::Euclidean, false),
            vec![0.0, 5.0, 5.0, 0.0]
        );
        assert_eq!(
            pairwise(m, None, Metric::SqEuclidean, false),
            vec![0.0, 25.0, 25.0, 0.0]
        );
        // The zero vector has cosine distance 1 to everything, itself included.
        assert_eq!(
            pairwise(m, None, Metric::Cosine, false),
            vec![1.0, 1.0, 1.0, 0.0]
        );
        assert_eq!(
            pairwise(m, None, Metric::Dot, false),
            vec![0.0, 0.0, 0.0, -25.0]
        );
    }

    #[test]
    fn matches_direct_computation_on_odd_sizes() {
        let mut seed = 7u64;
        for &(rows, cols, dim) in &[(1, 1, 1), (3, 17, 3), (17, 5, 64), (129, 33, 257)] {
            let a: Vec<f32> = (0..rows * dim).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..cols * dim).map(|_| lcg(&mut seed)).collect();
            for metric in [
                Metric::Euclidean,
                Metric::SqEuclidean,
                Metric::Cosine,
                Metric::Dot,
            ] {
                let got = pairwise(
                    MatRef::new(&a, rows, dim).unwrap(),
                    Some(MatRef::new(&b, cols, dim).unwrap()),
                    metric,
                    false,
                );
                let want = naive(&a, &b, rows, cols, dim, metric);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{metric:?} {rows}x{cols}x{dim}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn duplicates_are_exactly_zero_and_never_negative() {
        let row = [0.3f32, -1.7, 2.9, 1e3];
        let a: Vec<f32> = row
            .iter()
            .chain(row.iter())
            .chain([1.0, 2.0, 3.0, 4.0].iter())
            .copied()
            .collect();
        let m = MatRef::new(&a, 3, 4).unwrap();
        for metric in [Metric::Euclidean, Metric::SqEuclidean, Metric::Cosine] {
            let d = pairwise(m, None, metric, false);
            assert_eq!(d[1], 0.0, "{metric:?}");
            assert_eq!(d[3], 0.0, "{metric:?}");
            assert!(d.iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn magnitudes_past_f32_norms_are_recomputed() {
        // ‖a‖² = 1e40 overflows f32; the distances themselves do not (euclidean).
        let a = [1e20f32, 0.0, -1e20, 0.0, 1e19, 0.0];
        let m = MatRef::new(&a, 3, 2).unwrap();
        let d = pairwise(m, None, Metric::Euclidean, false);
        for (got, want) in [(d[1], 2e20f32), (d[2], 9e19), (d[5], 1.1e20)] {
            assert!((got / want - 1.0).abs() < 1e-6, "{got} vs {want}");
        }
        // Products of opposite signs overflow to inf − inf in the GEMM: a·b = 0 in truth.
        let b = [1e20f32, 1e20, 1e20, -1e20];
        let dot = pairwise(MatRef::new(&b, 2, 2).unwrap(), None, Metric::Dot, false);
        assert_eq!(dot[1], 0.0);
    }

    #[test]
    fn magnitudes_near_f32_underflow_are_recomputed() {
        // Squared norms of 1e-25 rows underflow f32; the distances (~1e-25) do not.
        let a = [1e-25f32, 2e-25, 0.0, 0.0, 4e-25, 1e-25];
        let d = pairwise(
            MatRef::new(&a, 3, 2).unwrap(),
            None,
            Metric::Euclidean,
            false,
        );
        let want = [
            (1, 5f64.sqrt() * 1e-25),
            (2, 10f64.sqrt() * 1e-25),
            (5, 17f64.sqrt() * 1e-25),
        ];
        for (at, w) in want {
            assert!((d[at] as f64 / w - 1.0).abs() < 1e-6, "{} vs {w}", d[at]);
        }
    }

    #[test]
    fn tiles_agree_with_full_matrix() {
        let mut seed = 11u64;
        let (n, dim) = (70, 9);
        let a: Vec<f32> = (0..n * dim).map(|_| lcg(&mut seed)).collect();
        let dist = Distances::new(
            MatRef::new(&a, n, dim).unwrap(),
            None,
            MetricOptions::default(),
        );
        let full = dist.full().unwrap();
        let mut tile = vec![0.0; 5 * 7];
        dist.tile(60, 65, 3, 10, &mut tile);
        for i in 0..5 {
            for j in 0..7 {
                assert!((tile[i * 7 + j] - full[(60 + i) * n + 3 + j]).abs() < 1e-5);
            }
        }
    }
}
