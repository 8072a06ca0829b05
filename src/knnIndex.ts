/**
 * KnnIndex: a corpus added in pieces (each `add` into buffers of the index's own, so the total
 * may pass any single buffer and 4 GiB) and searched exactly through src/pieceSearch.ts: the
 * answer of one search over the whole corpus, ties included.
 */

import { dropCopy, newCopy, type DeviceCopy } from './deviceCopy'
import { toMatrix } from './matrix'
import { placeLists } from './neighbours'
import { OPTION_KEYS, readOptions } from './options'
import { defaultBatch, planSearch, searchPieces, searchPiecesSync, type Piece } from './pieceSearch'
import type { Device, KnnIndexOptions, KnnIndexSearchOptions, KnnResult, MatrixLike, Metric } from './types'
import { checkBoolean, checkCallback, checkCommon, checkInteger, checkPositiveInteger, checkResultSize, checkSignal } from './validate'

/**
 * Values a piece holds at most: adds fill the last piece until it has this many, so that the
 * copy an async search hands the device for one piece stays bounded (256 MiB), and many small
 * adds still make few pieces.
 */
const PIECE_VALUES = 2 ** 26

/** Global indices are int32, as every knn result's. */
const MAX_ROWS = 2 ** 31 - 1

/**
 * A piece being filled: its buffer has room for more rows than it holds. `copy` is where its
 * GPU copy is kept between searches on 'cuda'; rows added to the piece let it go.
 */
interface Growing {
  buffer: Float32Array
  rows: number
  offset: number
  copy: DeviceCopy
}

/** What an index holds, kept out of the class so that it stays out of the public type. */
interface Held {
  pieces: Growing[]
  size: number
  dim: number | undefined
}

const HELD = new WeakMap<KnnIndex, Held>()

function held(index: KnnIndex): Held {
  return HELD.get(index)!
}

/**
 * Internal: the index's pieces as they are now (later adds do not change them); with `copies`,
 * with the places of their GPU copies, which only the index's own searches use (they are
 * prepared under its options).
 */
export function piecesOf(index: KnnIndex, copies = false): Piece[] {
  const { pieces, dim } = held(index)
  return pieces.map((p) => ({ data: p.buffer.subarray(0, p.rows * (dim ?? 0)), rows: p.rows, offset: p.offset, ...(copies ? { copy: p.copy } : {}) }))
}

/** Internal: global row `i` as added (a view, no copy), for the hard-negative miner's positive scores. */
export function rowOf(index: KnnIndex, i: number): Float32Array {
  const { pieces, dim = 0 } = held(index)
  let lo = 0, hi = pieces.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (pieces[mid].offset <= i) lo = mid
    else hi = mid - 1
  }
  const p = pieces[lo]
  return p.buffer.subarray((i - p.offset) * dim, (i - p.offset + 1) * dim)
}

/**
 * An exact k-nearest-neighbour index over a corpus added in pieces, the object FAISS's
 * `IndexFlat` and usearch's `Index` users know. Each {@link KnnIndex.add} appends rows (global
 * indices continue from the rows before) in buffers of the index's own, so the total may pass
 * 4 GiB and any single buffer; the index holds each row once. A search is exact over every
 * piece: ascending distance, ties to the lower global index, the same bits as one
 * {@link knn} call over all the rows (see "Shape invariance" in docs/API.md).
 *
 * On `'cuda'`, the first search uploads each piece and keeps it on the GPU while it takes at
 * most half of the device memory a search may use (net of what is kept already): later
 * searches then move only their queries and results. Pieces that do not fit so stream through
 * the device at every search. {@link KnnIndex.deviceBytes} says what is kept and
 * {@link KnnIndex.releaseDevice} frees it; otherwise it is freed when the index is collected.
 *
 * @example
 * const index = new KnnIndex({ metric: 'cosine' })
 * index.add(firstHalf)
 * index.add(secondHalf)            // ids continue after firstHalf's rows
 * const { indices } = await index.search(queries, { k: 10 })
 */
export class KnnIndex {
  readonly #metric: Metric
  readonly #normalize: boolean
  readonly #device: Device
  readonly #maxMemory: number | undefined

  /**
   * @param opts - `metric` (default 'euclidean'), `normalize` (default false), `device`
   *   (default 'auto': chosen at each search by its size, as {@link knn} does) and `maxMemory`.
   * @throws TypeError / RangeError for a bad option.
   */
  constructor(opts?: KnnIndexOptions) {
    const o = readOptions(opts, OPTION_KEYS.knnIndex)
    const common = checkCommon(o)
    this.#metric = common.metric
    this.#normalize = common.normalize
    this.#device = common.device
    this.#maxMemory = common.maxMemory
    HELD.set(this, { pieces: [], size: 0, dim: undefined })
  }

  /** Rows added so far. */
  get size(): number {
    return held(this).size
  }

  /** The dimension, fixed by the first `add` of at least one row; undefined before. */
  get dim(): number | undefined {
    return held(this).dim
  }

  /** Bytes of the index kept in GPU memory between searches (0 until a search on `'cuda'`). */
  get deviceBytes(): number {
    return held(this).pieces.reduce((sum, p) => sum + (p.copy.index?.deviceBytes ?? 0), 0)
  }

  /**
   * Frees the index's GPU copies now rather than when the index is collected; the next search
   * on `'cuda'` uploads the pieces again. A search under way keeps what it reads until it ends.
   */
  releaseDevice(): void {
    for (const p of held(this).pieces) {
      dropCopy(p.copy)
      p.copy = newCopy()
    }
  }

  /** The metric every search uses. */
  get metric(): Metric {
    return this.#metric
  }

  /** Whether rows are L2-normalised before every distance. */
  get normalize(): boolean {
    return this.#normalize
  }

  /**
   * Appends `rows` (copied into the index's own buffers): their global indices run from
   * `size` to `size + rows.rows − 1`.
   *
   * @throws TypeError / RangeError for a bad matrix, a dimension other than `dim`, or a total
   *   past 2³¹ − 1 rows.
   */
  add(rows: MatrixLike): void {
    const m = toMatrix(rows, 'rows')
    const h = held(this)
    if (m.rows === 0) return
    if (h.dim !== undefined && m.cols !== h.dim) {
      throw new RangeError(`rows: expected ${h.dim} columns (the index's dim), received ${m.cols}`)
    }
    if (h.size + m.rows > MAX_ROWS) {
      throw new RangeError(`rows: expected at most ${MAX_ROWS - h.size} more rows (an index holds up to ${MAX_ROWS}), received ${m.rows}`)
    }
    const cols = m.cols
    h.dim = cols
    const perPiece = Math.max(1, Math.floor(PIECE_VALUES / cols))
    for (let done = 0; done < m.rows;) {
      let last = h.pieces.at(-1)
      if (last === undefined || last.rows === perPiece) {
        // A new piece starts with room for what is left of this add, up to a whole piece.
        last = { buffer: new Float32Array(Math.min(perPiece, m.rows - done) * cols), rows: 0, offset: h.size, copy: newCopy() }
        h.pieces.push(last)
      } else {
        // The piece changes: its GPU copy (if any) is out of date.
        dropCopy(last.copy)
        last.copy = newCopy()
      }
      const take = Math.min(perPiece - last.rows, m.rows - done)
      if ((last.rows + take) * cols > last.buffer.length) {
        // Room doubles (up to a whole piece): many small adds copy each row a few times at most.
        const grown = new Float32Array(Math.min(perPiece, Math.max(last.rows + take, 2 * last.rows)) * cols)
        grown.set(last.buffer.subarray(0, last.rows * cols))
        last.buffer = grown
      }
      last.buffer.set(m.data.subarray(done * cols, (done + take) * cols), last.rows * cols)
      last.rows += take
      h.size += take
      done += take
    }
  }

  /**
   * The `k` nearest rows of the index for every row of `queries`, exact: row-major `rows × k`,
   * each row ascending by distance, ties to the lower global index. Runs off the main thread in
   * batches of `batchSize` query rows, calling `onProgress(done, total)` after each; aborting
   * `signal` rejects at once and starts no further batch.
   *
   * @param queries - `rows × dim` queries.
   * @param opts - `k` (1 ≤ k ≤ size, or ≤ size − 1 with `excludeSelf`: query row i never
   *   returns global index i), `batchSize`, `signal`, `onProgress`.
   * @throws TypeError / RangeError (as a rejection) for bad input; Error when the device cannot run.
   */
  async search(queries: MatrixLike, opts: KnnIndexSearchOptions): Promise<KnnResult> {
    const { q, s, out, signal, onProgress, batchSize, pieces } = this.#prepare(queries, opts)
    await searchPieces(s, q, pieces, batchSize, signal, onProgress, (start, _end, acc) => placeLists(out, start, acc))
    return out
  }

  /** Synchronous twin of {@link KnnIndex.search}: same arguments, returns the result directly. */
  searchSync(queries: MatrixLike, opts: KnnIndexSearchOptions): KnnResult {
    const { q, s, out, signal, onProgress, batchSize, pieces } = this.#prepare(queries, opts)
    searchPiecesSync(s, q, pieces, batchSize, signal, onProgress, (start, _end, acc) => placeLists(out, start, acc))
    return out
  }

  #prepare(queries: MatrixLike, opts: KnnIndexSearchOptions) {
    const o = readOptions(opts, OPTION_KEYS.knnIndexSearch, 'opts', true)
    const q = toMatrix(queries, 'queries')
    const { size, dim } = held(this)
    if (q.rows > 0 && dim !== undefined && q.cols !== dim) {
      throw new RangeError(`queries: expected ${dim} columns (the index's dim), received ${q.cols}`)
    }
    const excludeSelf = checkBoolean(o.excludeSelf, 'opts.excludeSelf', false)
    const most = size - (excludeSelf ? 1 : 0)
    const k = checkInteger(o.k, 'opts.k', 1)
    const holding = `an index of ${size} row${size === 1 ? '' : 's'}${excludeSelf ? ' and excludeSelf' : ''}`
    if (most < 1) throw new RangeError(`opts.k: expected rows in the index to search, received ${holding}; add rows first`)
    if (k > most) throw new RangeError(`opts.k: expected an integer from 1 to ${most} (the index's size${excludeSelf ? ' − 1, with excludeSelf' : ''}), received ${k}`)
    checkResultSize(q.rows * k, 8, `opts.k: ${q.rows} queries × k = ${k} neighbours`, 'ask for fewer neighbours or fewer queries at once')
    const batchSize = checkPositiveInteger(o.batchSize, 'opts.batchSize', defaultBatch(size))
    const signal = checkSignal(o.signal)
    const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
    const s = planSearch(this.#device, this.#metric, this.#normalize, this.#maxMemory, q.rows, size, dim!, k, excludeSelf)
    const out: KnnResult = { indices: new Int32Array(q.rows * k), distances: new Float32Array(q.rows * k), rows: q.rows, k }
    // The pieces as they are now: an add while the search runs does not change what it searches.
    return { q, s, out, signal, onProgress, batchSize, pieces: piecesOf(this, true) }
  }
}
