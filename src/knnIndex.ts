/**
 * KnnIndex: a corpus added in pieces (each `add` its own buffers, so the total may pass any
 * single buffer and 4 GiB) and searched exactly. Every search batch is searched against each
 * piece on the chosen device, and the pieces' lists are merged by (distance, global index):
 * shape invariance makes that the answer of one search over the whole corpus, ties included.
 */

import type { KnnResult as BackendKnnResult, SearchOptions } from './backend'
import { maxNeighbours, nativeOptions, resolveDevice, type Target } from './device'
import { abortError } from './errors'
import { toMatrix } from './matrix'
import { emptyLists, mergeLists, type Lists } from './neighbours'
import { OPTION_KEYS, readOptions } from './options'
import { runSync, startOp, withSignal } from './run'
import type { Device, KnnIndexOptions, KnnIndexSearchOptions, KnnResult, Matrix, MatrixLike, Metric } from './types'
import { checkBoolean, checkCallback, checkInteger, checkPositiveInteger, checkResultSize, checkSignal, checkCommon } from './validate'

/**
 * Values per piece: an `add` larger than this is kept as several pieces, so that the copy an
 * async search hands the device for one piece stays bounded (256 MiB), while the device's
 * fixed cost per piece stays small next to a batch's search against it.
 */
const PIECE_VALUES = 2 ** 26

/** Global indices are int32, as every knn result's. */
const MAX_ROWS = 2 ** 31 - 1

/** As knn's default batches: 1024 query rows, more for a small corpus. */
const MIN_DEFAULT_BATCH = 1024
const BATCH_DISTANCES = 4_194_304

/** Rows [offset, offset + rows) of the corpus, in a buffer of their own. */
export interface Piece {
  readonly data: Float32Array
  readonly rows: number
  readonly offset: number
}

/** How one search runs: the device, the metric options the addon takes, and the k of each piece. */
export interface PieceSearch {
  readonly target: Target
  readonly metric: { metric: Metric; normalize: boolean; device?: 'cpu' | 'cuda'; maxMemory?: number }
  readonly cols: number
  readonly k: number
  readonly excludeSelf: boolean
}

/** The neighbours one piece must return: k, one more when the query's own row may be among them. */
function pieceK(s: PieceSearch, rows: number): number {
  return Math.min(s.k + (s.excludeSelf ? 1 : 0), rows)
}

function pieceArgs(s: PieceSearch, queries: Float32Array, rows: number, piece: Piece): [Float32Array, number, Float32Array, number, number, PieceSearch['metric'], SearchOptions] {
  return [queries, rows, piece.data, piece.rows, s.cols, s.metric, { k: pieceK(s, piece.rows), excludeSelf: false, queryOffset: 0 }]
}

function asLists(part: BackendKnnResult, rows: number, k: number): Lists {
  if (part.indices.length !== rows * k || part.distances.length !== rows * k) {
    throw new Error(`internal error: knn returned ${part.indices.length} neighbours, expected ${rows * k}`)
  }
  return { indices: part.indices, distances: part.distances, rows, k }
}

/**
 * Internal: merges one piece's search into `acc` (query rows whose first global row is
 * `queryStart`, so that excludeSelf drops global index queryStart + r from row r).
 */
export function mergePiece(s: PieceSearch, acc: Lists, part: BackendKnnResult, piece: Piece, queryStart: number): Lists {
  const self = s.excludeSelf ? (r: number) => queryStart + r : undefined
  return mergeLists(acc, asLists(part, acc.rows, pieceK(s, piece.rows)), piece.offset, s.k, self)
}

/** Internal: searches `rows` queries against one piece on the calling thread. */
export function searchPieceSync(s: PieceSearch, queries: Float32Array, rows: number, piece: Piece, signal?: AbortSignal): BackendKnnResult {
  const args = pieceArgs(s, queries, rows, piece)
  return runSync(s.target, (b) => b.knn(...args), signal)
}

/** Internal: searches `rows` queries against one piece off the main thread where the device allows. */
export function searchPiece(s: PieceSearch, queries: Float32Array, rows: number, piece: Piece, signal?: AbortSignal): Promise<BackendKnnResult> {
  const args = pieceArgs(s, queries, rows, piece)
  return startOp(s.target, (b) => b.knn(...args), (n, token) => n.knnAsync(...args, token), signal)
}

/** What to do with the merged neighbours of query rows [start, end) as each batch is done. */
export type ConsumeLists = (start: number, end: number, lists: Lists) => void

/**
 * Internal: searches `q` against every piece, batch by batch off the main thread, handing each
 * batch's merged lists to `consume` and reporting progress; an abort rejects at once and starts
 * no further search.
 */
export function searchPieces(s: PieceSearch, q: Matrix, pieces: readonly Piece[], batchSize: number,
  signal: AbortSignal | undefined, onProgress: ((done: number, total: number) => void) | undefined, consume: ConsumeLists): Promise<void> {
  return withSignal(signal, async () => {
    for (let start = 0; start < q.rows; start += batchSize) {
      if (signal?.aborted) throw abortError(signal)
      const end = Math.min(q.rows, start + batchSize)
      const sub = q.data.subarray(start * q.cols, end * q.cols)
      let acc = emptyLists(end - start, s.k)
      for (const piece of pieces) {
        const part = await searchPiece(s, sub, end - start, piece, signal)
        if (signal?.aborted) throw abortError(signal)
        acc = mergePiece(s, acc, part, piece, start)
      }
      consume(start, end, acc)
      onProgress?.(end, q.rows)
    }
  })
}

/** Internal: the synchronous twin of {@link searchPieces}. */
export function searchPiecesSync(s: PieceSearch, q: Matrix, pieces: readonly Piece[], batchSize: number,
  signal: AbortSignal | undefined, onProgress: ((done: number, total: number) => void) | undefined, consume: ConsumeLists): void {
  for (let start = 0; start < q.rows; start += batchSize) {
    if (signal?.aborted) throw abortError(signal)
    const end = Math.min(q.rows, start + batchSize)
    const sub = q.data.subarray(start * q.cols, end * q.cols)
    let acc = emptyLists(end - start, s.k)
    for (const piece of pieces) acc = mergePiece(s, acc, searchPieceSync(s, sub, end - start, piece, signal), piece, start)
    consume(start, end, acc)
    onProgress?.(end, q.rows)
  }
}

/** Internal: knn's default batch: 1024 query rows, more for a small corpus. */
export function defaultBatch(corpusRows: number): number {
  return Math.max(MIN_DEFAULT_BATCH, Math.ceil(BATCH_DISTANCES / Math.max(1, corpusRows)))
}

/**
 * Internal: the device and per-piece k of a search of `queryRows × cols` against `corpusRows`
 * rows; 'auto' falls back to 'cpu' when a piece needs more neighbours than the GPU takes.
 */
export function planSearch(device: Device, metric: Metric, normalize: boolean, maxMemory: number | undefined,
  queryRows: number, corpusRows: number, cols: number, k: number, excludeSelf: boolean,
  tooMany: (limit: number, device: string) => string = (limit, device) =>
    `opts.k: expected at most ${limit - (excludeSelf ? 1 : 0)} on device '${device}', received ${k}`): PieceSearch {
  let target = resolveDevice(device, { op: 'knn', macs: queryRows * corpusRows * cols })
  const limit = maxNeighbours(target)
  const needed = Math.min(k + (excludeSelf ? 1 : 0), corpusRows)
  if (limit !== undefined && needed > limit) {
    if (device !== 'auto') {
      throw new RangeError(tooMany(limit, target.device))
    }
    target = resolveDevice('cpu')
  }
  return { target, metric: { metric, normalize, ...nativeOptions(target, maxMemory) }, cols, k, excludeSelf }
}

/**
 * An exact k-nearest-neighbour index over a corpus added in pieces, the object FAISS's
 * `IndexFlat` and usearch's `Index` users know. Each {@link KnnIndex.add} appends rows (global
 * indices continue from the rows before) in buffers of the index's own, so the total may pass
 * 4 GiB and any single buffer; the index holds each row once. A search is exact over every
 * piece: ascending distance, ties to the lower global index, the same bits as one
 * {@link knn} call over all the rows (see "Shape invariance" in docs/API.md).
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
  readonly #pieces: Piece[] = []
  #size = 0
  #dim: number | undefined

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
  }

  /** Rows added so far. */
  get size(): number {
    return this.#size
  }

  /** The dimension, fixed by the first `add` of at least one row; undefined before. */
  get dim(): number | undefined {
    return this.#dim
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
    if (m.rows === 0) return
    if (this.#dim !== undefined && m.cols !== this.#dim) {
      throw new RangeError(`rows: expected ${this.#dim} columns (the index's dim), received ${m.cols}`)
    }
    if (this.#size + m.rows > MAX_ROWS) {
      throw new RangeError(`rows: expected at most ${MAX_ROWS - this.#size} more rows (an index holds up to ${MAX_ROWS}), received ${m.rows}`)
    }
    this.#dim = m.cols
    const step = Math.max(1, Math.floor(PIECE_VALUES / m.cols))
    for (let start = 0; start < m.rows; start += step) {
      const end = Math.min(m.rows, start + step)
      this.#pieces.push({ data: m.data.slice(start * m.cols, end * m.cols), rows: end - start, offset: this.#size + start })
    }
    this.#size += m.rows
  }

  /**
   * Internal: the row `i` of the corpus as added (no copy), for the hard-negative miner's
   * positive scores.
   */
  row(i: number): Float32Array {
    const dim = this.#dim ?? 0
    for (const p of this.#pieces) {
      if (i >= p.offset && i < p.offset + p.rows) return p.data.subarray((i - p.offset) * dim, (i - p.offset + 1) * dim)
    }
    throw new RangeError(`index: expected a row below ${this.#size}, received ${i}`)
  }

  /** Internal: the pieces, in ascending global order. */
  get pieces(): readonly Piece[] {
    return this.#pieces
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
    const { q, s, out, signal, onProgress, batchSize } = this.#prepare(queries, opts)
    await searchPieces(s, q, this.#pieces, batchSize, signal, onProgress, (start, _end, acc) => store(out, start, acc))
    return out
  }

  /** Synchronous twin of {@link KnnIndex.search}: same arguments, returns the result directly. */
  searchSync(queries: MatrixLike, opts: KnnIndexSearchOptions): KnnResult {
    const { q, s, out, signal, onProgress, batchSize } = this.#prepare(queries, opts)
    searchPiecesSync(s, q, this.#pieces, batchSize, signal, onProgress, (start, _end, acc) => store(out, start, acc))
    return out
  }

  #prepare(queries: MatrixLike, opts: KnnIndexSearchOptions) {
    const o = readOptions(opts, OPTION_KEYS.knnIndexSearch, 'opts', true)
    const q = toMatrix(queries, 'queries')
    if (q.rows > 0 && this.#dim !== undefined && q.cols !== this.#dim) {
      throw new RangeError(`queries: expected ${this.#dim} columns (the index's dim), received ${q.cols}`)
    }
    const excludeSelf = checkBoolean(o.excludeSelf, 'opts.excludeSelf', false)
    const most = this.#size - (excludeSelf ? 1 : 0)
    const k = checkInteger(o.k, 'opts.k', 1)
    const held = `an index of ${this.#size} row${this.#size === 1 ? '' : 's'}${excludeSelf ? ' and excludeSelf' : ''}`
    if (most < 1) throw new RangeError(`opts.k: expected rows in the index to search, received ${held}; add rows first`)
    if (k > most) throw new RangeError(`opts.k: expected an integer from 1 to ${most} (the index's size${excludeSelf ? ' − 1, with excludeSelf' : ''}), received ${k}`)
    checkResultSize(q.rows * k, 8, `opts.k: ${q.rows} queries × k = ${k} neighbours`, 'ask for fewer neighbours or fewer queries at once')
    const batchSize = checkPositiveInteger(o.batchSize, 'opts.batchSize', defaultBatch(this.#size))
    const signal = checkSignal(o.signal)
    const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
    const s = planSearch(this.#device, this.#metric, this.#normalize, this.#maxMemory, q.rows, this.#size, this.#dim!, k, excludeSelf)
    const out: KnnResult = { indices: new Int32Array(q.rows * k), distances: new Float32Array(q.rows * k), rows: q.rows, k }
    return { q: q satisfies Matrix, s, out, signal, onProgress, batchSize }
  }
}

function store(out: KnnResult, start: number, acc: Lists): void {
  out.indices.set(acc.indices, start * out.k)
  out.distances.set(acc.distances, start * out.k)
}
