//! Chunk planning, for every device: how many rows and columns one chunk of work takes so
//! that everything it needs fits a memory budget. On a GPU a chunk is a launch and inputs
//! larger than the device are cut into chunks whose answers the ops merge (knn merges top-k
//! lists, batch-hard the per-row extremes); on the CPU a chunk is the tile each thread
//! computes at a time (`maxMemory`). Each chunk is a point to report progress and to honour a
//! stop.

/// Rows and columns a chunk takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub rows: usize,
    pub cols: usize,
}

/// What a chunk holds on the device, in bytes: `per_row` for each of its rows (the row's
/// data, norm, label and per-row state), `per_col` for each column (the same for candidates)
/// and `per_cell` for each (row, column) pair (a distance scratch; 0 for fused kernels).
#[derive(Clone, Copy, Debug)]
pub struct Footprint {
    pub per_row: usize,
    pub per_col: usize,
    pub per_cell: usize,
}

impl Footprint {
    pub fn bytes(&self, p: Plan) -> usize {
        p.rows * self.per_row + p.cols * self.per_col + p.rows * p.cols * self.per_cell
    }
}

/// Smallest chunk sides: one tile of rows, and a few tiles of columns.
const MIN_ROWS: usize = 64;
const MIN_COLS: usize = 256;

/// The largest chunks of `rows × cols` work within `budget` bytes. Columns are kept whole
/// when they fit (the candidates are then uploaded once); rows are cut into multiples of the
/// tile. `max_rows`/`max_cols` cap a side (a kernel's limit, or a scratch size worth
/// keeping). None when even the smallest chunk does not fit.
pub fn plan(
    rows: usize,
    cols: usize,
    f: Footprint,
    budget: usize,
    max_rows: usize,
    max_cols: usize,
) -> Option<Plan> {
    let rows = rows.max(1);
    let cols = cols.max(1);
    let min_rows = rows.min(MIN_ROWS);
    let min_cols = cols.min(MIN_COLS);
    // Columns first: as many as fit next to the smallest row chunk, at most half the budget
    // when rows are to be had, so the row chunks stay large.
    let mut c = cols.min(max_cols).max(min_cols);
    while c > min_cols
        && f.bytes(Plan {
            rows: min_rows,
            cols: c,
        }) > budget / 2
    {
        c = (c / 2).max(min_cols);
    }
    let fixed = c * f.per_col;
    if fixed > budget {
        return None;
    }
    let per_row = f.per_row + c * f.per_cell;
    let fit = (budget - fixed) / per_row.max(1);
    let mut r = fit.min(rows).min(max_rows);
    if r < rows {
        r -= r % MIN_ROWS;
    }
    if r < min_rows {
        return None;
    }
    Some(Plan { rows: r, cols: c })
}

/// The largest chunks of rows when every chunk must take all `cols` columns (ops that need a
/// row of distances entire); None when even one tile of rows does not fit.
pub fn plan_whole_rows(
    rows: usize,
    cols: usize,
    f: Footprint,
    budget: usize,
    max_rows: usize,
) -> Option<Plan> {
    let fixed = cols.saturating_mul(f.per_col);
    let per_row = f
        .per_row
        .saturating_add(cols.saturating_mul(f.per_cell))
        .max(1);
    let fit = budget.checked_sub(fixed)? / per_row;
    let mut r = fit.min(rows.max(1)).min(max_rows);
    if r < rows {
        r -= r % MIN_ROWS;
    }
    (r >= rows.clamp(1, MIN_ROWS)).then_some(Plan { rows: r, cols })
}

/// Bytes of the smallest chunk `plan` would make of `rows × cols` work: what a budget must
/// hold at least.
pub fn smallest(rows: usize, cols: usize, f: Footprint) -> usize {
    f.bytes(Plan {
        rows: rows.clamp(1, MIN_ROWS),
        cols: cols.clamp(1, MIN_COLS),
    })
}

/// `0..n` in consecutive `(start, end)` chunks of at most `size`.
pub fn chunks(n: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(size.max(1))
        .map(move |s| (s, (s + size.max(1)).min(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Footprint = Footprint {
        per_row: 520,
        per_col: 520,
        per_cell: 4,
    };

    #[test]
    fn everything_in_one_chunk_when_it_fits() {
        let p = plan(1000, 3000, F, 1 << 30, usize::MAX, usize::MAX).unwrap();
        assert_eq!(
            p,
            Plan {
                rows: 1000,
                cols: 3000
            }
        );
    }

    #[test]
    fn chunks_fit_the_budget_and_rows_are_whole_tiles() {
        for budget in [300_000usize, 1 << 20, 5 << 20, 64 << 20] {
            let p = plan(100_000, 70_000, F, budget, usize::MAX, usize::MAX).unwrap();
            assert!(F.bytes(p) <= budget, "{p:?} over {budget}");
            assert_eq!(p.rows % 64, 0, "{p:?}");
            assert!(p.cols >= 256 && p.rows >= 64, "{p:?}");
        }
    }

    #[test]
    fn caps_apply_and_too_small_budgets_are_none() {
        let p = plan(5000, 5000, F, 1 << 30, 1024, 2048).unwrap();
        assert_eq!(
            p,
            Plan {
                rows: 1024,
                cols: 2048
            }
        );
        assert_eq!(plan(5000, 5000, F, 1000, usize::MAX, usize::MAX), None);
    }

    #[test]
    fn whole_rows_keep_every_column() {
        let p = plan_whole_rows(1000, 3000, F, 5 << 20, usize::MAX).unwrap();
        assert_eq!(p.cols, 3000);
        assert!(
            F.bytes(p) <= 5 << 20 && p.rows.is_multiple_of(64) && p.rows >= 64,
            "{p:?}"
        );
        assert_eq!(plan_whole_rows(1000, 3000, F, 100_000, usize::MAX), None);
    }

    #[test]
    fn chunks_cover_exactly() {
        let c: Vec<_> = chunks(10, 4).collect();
        assert_eq!(c, vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(chunks(0, 4).count(), 0);
    }
}
