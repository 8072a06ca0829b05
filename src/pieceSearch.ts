/**
 * Searching a corpus held in pieces: each batch of queries is searched against every piece on
 * the device (its one-shot knn), and the pieces' lists are merged by (distance, global index).
 * Shape invariance (docs/SEMANTICS.md) makes that one search over the whole corpus, ties
 * included. KnnIndex, mineHardNegatives over an index, hardNegativeCandidates and the CLI's
 * streamed corpus all search this way.
 */

import type { KnnResult as BackendKnnResult, SearchOptions } from './backend'
import { maxNeighbours, nativeOptions, resolveDevice, type Target } from './device'
import { keptIndex, type DeviceCopy } from './deviceCopy'
import { abortError } from './errors'
import { emptyLists, mergeLists, type Lists } from './neighbours'
import { runSync, startOp, withSignal } from './run'
import type { Device, Matrix, Metric } from './types'

/**
 * Default batches: 1024 query rows, or more for a small corpus, so that each backend call still
 * computes about 4 Mi distances and its fixed cost stays small. Memory does not grow with the
 * batch: the backend folds distances tile by tile.
 */
const MIN_DEFAULT_BATCH = 1024
const BATCH_DISTANCES = 4_194_304

/**
 * Rows [offset, offset + rows) of the corpus, in a buffer of their own; `copy`, where the
 * piece's GPU copy is kept between searches (a KnnIndex's pieces have one).
 */
export interface Piece {
  readonly data: Float32Array
  readonly rows: number
  readonly offset: number
  readonly copy?: DeviceCopy
}

/** How one search runs: the device, the metric options the addon takes, and the k of each piece. */
export interface PieceSearch {
  readonly target: Target
  readonly metric: { metric: Metric; normalize: boolean; device?: 'cpu' | 'cuda'; maxMemory?: number }
  readonly cols: number
  readonly k: number
  readonly excludeSelf: boolean
}

/**
 * The neighbours one piece must return for query rows [queryStart, queryStart + rows): k, and
 * one more when one of those queries' own rows lies in the piece (excludeSelf drops it later).
 */
function pieceK(s: PieceSearch, piece: Piece, queryStart: number, rows: number): number {
  const overlaps = s.excludeSelf && queryStart < piece.offset + piece.rows && piece.offset < queryStart + rows
  return Math.min(s.k + (overlaps ? 1 : 0), piece.rows)
}

function pieceArgs(s: PieceSearch, queries: Float32Array, rows: number, piece: Piece, queryStart: number): [Float32Array, number, Float32Array, number, number, PieceSearch['metric'], SearchOptions] {
  return [queries, rows, piece.data, piece.rows, s.cols, s.metric, { k: pieceK(s, piece, queryStart, rows), excludeSelf: false, queryOffset: 0 }]
}

function asLists(part: BackendKnnResult, rows: number, k: number): Lists {
  if (part.indices.length !== rows * k || part.distances.length !== rows * k) {
    throw new Error(`internal error: knn returned ${part.indices.length} neighbours, expected ${rows * k}`)
  }
  return { indices: part.indices, distances: part.distances, rows, k }
}

/**
 * Merges one piece's search into `acc` (query rows whose first global row is
 * `queryStart`, so that excludeSelf drops global index queryStart + r from row r).
 */
export function mergePiece(s: PieceSearch, acc: Lists, part: BackendKnnResult, piece: Piece, queryStart: number): Lists {
  const self = s.excludeSelf ? (r: number) => queryStart + r : undefined
  return mergeLists(acc, asLists(part, acc.rows, pieceK(s, piece, queryStart, acc.rows)), piece.offset, s.k, self)
}

/** Searches `rows` queries (the first global row `queryStart`) against one piece on the calling thread. */
export function searchPieceSync(s: PieceSearch, queries: Float32Array, rows: number, queryStart: number, piece: Piece, signal?: AbortSignal): BackendKnnResult {
  const args = pieceArgs(s, queries, rows, piece, queryStart)
  const kept = keptIndex(s.target, s.metric, piece.copy, piece.data, piece.rows, s.cols)
  if (kept === undefined) return runSync(s.target, (b) => b.knn(...args), signal)
  try {
    return runSync(s.target, () => kept.index.search(queries, rows, args[6]), signal)
  } finally {
    kept.settle()
  }
}

/** Searches `rows` queries (the first global row `queryStart`) against one piece off the main thread where the device allows. */
export function searchPiece(s: PieceSearch, queries: Float32Array, rows: number, queryStart: number, piece: Piece, signal?: AbortSignal): Promise<BackendKnnResult> {
  const args = pieceArgs(s, queries, rows, piece, queryStart)
  const kept = keptIndex(s.target, s.metric, piece.copy, piece.data, piece.rows, s.cols)
  if (kept === undefined) return startOp(s.target, (b) => b.knn(...args), (n, token) => n.knnAsync(...args, token), signal)
  return startOp(s.target, (b) => b.knn(...args), (_n, token) => kept.index.searchAsync(queries, rows, args[6], token), signal)
    .finally(kept.settle)
}

/** What to do with the merged neighbours of query rows [start, end) as each batch is done. */
export type ConsumeLists = (start: number, end: number, lists: Lists) => void

/**
 * Searches `q` against every piece, batch by batch off the main thread, handing each
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
        const part = await searchPiece(s, sub, end - start, start, piece, signal)
        if (signal?.aborted) throw abortError(signal)
        acc = mergePiece(s, acc, part, piece, start)
      }
      consume(start, end, acc)
      onProgress?.(end, q.rows)
    }
  })
}

/** The synchronous twin of {@link searchPieces}. */
export function searchPiecesSync(s: PieceSearch, q: Matrix, pieces: readonly Piece[], batchSize: number,
  signal: AbortSignal | undefined, onProgress: ((done: number, total: number) => void) | undefined, consume: ConsumeLists): void {
  for (let start = 0; start < q.rows; start += batchSize) {
    if (signal?.aborted) throw abortError(signal)
    const end = Math.min(q.rows, start + batchSize)
    const sub = q.data.subarray(start * q.cols, end * q.cols)
    let acc = emptyLists(end - start, s.k)
    for (const piece of pieces) acc = mergePiece(s, acc, searchPieceSync(s, sub, end - start, start, piece, signal), piece, start)
    consume(start, end, acc)
    onProgress?.(end, q.rows)
  }
}

/** The default batch of a search against `corpusRows` rows. */
export function defaultBatch(corpusRows: number): number {
  return Math.max(MIN_DEFAULT_BATCH, Math.ceil(BATCH_DISTANCES / Math.max(1, corpusRows)))
}

/**
 * The device and per-piece k of a search of `queryRows × cols` against `corpusRows`
 * rows; 'auto' falls back to 'cpu' when a piece needs more neighbours than the GPU takes.
 */
export function planSearch(device: Device, metric: Metric, normalize: boolean, maxMemory: number | undefined,
  queryRows: number, corpusRows: number, cols: number, k: number, excludeSelf: boolean,
  tooMany: (limit: number, device: string) => string = (limit, device) =>
    `opts.k: expected at most ${limit - (excludeSelf ? 1 : 0)} on device '${device}', received ${k}`): PieceSearch {
  let target = resolveDevice(device, { op: 'knn', macs: queryRows * corpusRows * cols, bytes: 4 * (queryRows + corpusRows) * cols + 8 * queryRows * k })
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
