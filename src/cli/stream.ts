/**
 * Exact search of a corpus file too big to hold: the corpus (or the slice of it a shard owns)
 * is read in row blocks sized to `--max-memory`, each block is searched with every query on
 * the device while the next one is read, and the blocks' lists are merged. The answer is the
 * in-memory search's, to the bit (docs/API.md, "Shape invariance").
 */
import { mergePiece, planSearch, searchPiece, type Piece, type PieceSearch } from '../knnIndex'
import { emptyLists, type Lists } from '../neighbours'
import type { NpyFile } from '../npyFile'
import type { Device, Matrix, Metric } from '../types'
import { CliError } from './io'

/** One streamed search: the queries, the corpus file and its rows [start, end) to search. */
export interface Stream {
  queries: Matrix
  corpus: NpyFile
  corpusPath: string
  start: number
  end: number
  /** Neighbours kept a query (the lists' width; −1 pads a row the slice cannot fill). */
  k: number
  metric: Metric
  normalize: boolean
  device: Device
  excludeSelf: boolean
  /** Bytes the blocks, the lists and the device's copies may take together. */
  maxMemory: number
  onProgress: (done: number, total: number) => void
  /** Sees each block (float32, rows [offset, offset + rows)) before it is searched. */
  onBlock?: (piece: Piece) => void
  /** Message for a k past what the device takes. */
  tooMany?: (limit: number, device: string) => string
}

/** Bytes of the lists: the kept lists, the new ones being merged, and a block's result twice (the device's and its copy). */
function listBytes(rows: number, k: number): number {
  return rows * k * 8 * 2 + rows * (k + 1) * 8 * 2
}

/**
 * The rows of a block: what is left of `maxMemory` once the queries and lists are counted,
 * shared by three blocks (the one searched, the one read meanwhile, the device's copy), plus
 * the float64 read buffer when the file holds float64.
 */
export function blockRows(s: Stream): number {
  const d = s.queries.cols
  const fixed = s.queries.data.byteLength + listBytes(s.queries.rows, s.k)
  const perRow = d * 4 * 3 + (s.corpus.dtype === 'float32' ? 0 : d * 8)
  if (fixed + perRow > s.maxMemory) {
    throw new CliError(`--max-memory: expected at least ${fixed + perRow} bytes (${s.queries.rows} queries × k = ${s.k} and one corpus row), ` +
      `received ${s.maxMemory}; raise it or search fewer queries at once`)
  }
  return Math.max(1, Math.floor((s.maxMemory - fixed) / perRow))
}

/** Rows [start, end) of a 2-D corpus file as float32 (float64 rounded, as the in-memory reader does). */
function readBlock(s: Stream, start: number, end: number): Piece {
  const raw = s.corpus.readRows(start, end)
  if (raw instanceof BigInt64Array || raw instanceof Int32Array) throw new CliError(`${s.corpusPath}: expected float32 or float64 embeddings, received ${s.corpus.dtype}`)
  const data = raw instanceof Float32Array ? raw : Float32Array.from(raw)
  return { data, rows: end - start, offset: start }
}

/**
 * Searches every query against the corpus rows [start, end), block by block, and returns each
 * query's `k` nearest of them (global indices), ascending by distance, ties to the lower index.
 */
export async function streamSearch(s: Stream): Promise<Lists> {
  const total = s.end - s.start
  const step = blockRows(s)
  let acc = emptyLists(s.queries.rows, s.k)
  if (total === 0 || s.queries.rows === 0) return acc
  const plan: PieceSearch = planSearch(s.device, s.metric, s.normalize, undefined, s.queries.rows, total, s.queries.cols, s.k, s.excludeSelf, s.tooMany)
  let next: Piece | undefined = readBlock(s, s.start, Math.min(s.end, s.start + step))
  while (next !== undefined) {
    const piece: Piece = next
    s.onBlock?.(piece)
    const search = searchPiece(plan, s.queries.data, s.queries.rows, piece)
    // The device works on its own threads: the next block is read meanwhile.
    const after = piece.offset + piece.rows
    try {
      next = after < s.end ? readBlock(s, after, Math.min(s.end, after + step)) : undefined
    } catch (err) {
      await search.catch(() => undefined)
      throw err
    }
    acc = mergePiece(plan, acc, await search, piece, 0)
    s.onProgress(after - s.start, total)
  }
  return acc
}
