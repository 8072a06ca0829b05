/**
 * Exact search of a corpus file too big to hold: the corpus (or the slice of it a shard owns)
 * is read in row blocks sized to `--max-memory`, each block is searched with every query on
 * the device while the next one is read, and the blocks' lists are merged. The answer is the
 * in-memory search's, to the bit (docs/API.md, "Shape invariance").
 */
import { mergePiece, searchPiece, type Piece, type PieceSearch } from '../pieceSearch'
import { emptyLists, type Lists } from '../neighbours'
import type { NpyFile } from '../npyFile'
import type { Matrix } from '../types'
import { checkFinite, CliError } from './io'

/** One streamed search: the queries, the corpus file and its rows [start, end) to search. */
export interface Stream {
  queries: Matrix
  corpus: NpyFile
  corpusPath: string
  start: number
  end: number
  /** The device, metric and k (the lists' width; −1 pads a row the slice cannot fill). */
  search: PieceSearch
  /** Bytes the blocks, the lists and the device's copies may take together. */
  maxMemory: number
  onProgress: (done: number, total: number) => void
  /** Sees each block (float32, rows [offset, offset + rows)) before it is searched. */
  onBlock?: (piece: Piece) => void
  /** The most queries searched together (`--batch-size`). */
  maxGroup?: number
}

/**
 * Bytes a query takes while its group is searched: its lists (the kept ones, the new ones being
 * merged, and a block's result twice: the device's and its copy) and the copy of its row each
 * device call makes (twice when the device normalises it: cosine or normalize).
 */
function queryBytes(s: Stream): number {
  const k = s.search.k
  const unit = s.search.metric.metric === 'cosine' || s.search.metric.normalize
  return k * 8 * 2 + (k + 1) * 8 * 2 + s.queries.cols * 4 * (unit ? 2 : 1)
}

/**
 * How the memory is shared: queries are searched in groups that take at most a third of
 * `maxMemory` (and at most `maxGroup` rows; a group more than the first rereads the corpus),
 * and the rest goes to blocks of corpus rows: the one searched and the one read meanwhile, the
 * device's copy (and its unit-length copy for cosine or normalize), plus the read buffer when
 * the file holds another dtype.
 */
export function plan(s: Stream): { groupRows: number; blockRows: number } {
  const d = s.queries.cols
  const perQuery = queryBytes(s)
  const unit = s.search.metric.metric === 'cosine' || s.search.metric.normalize
  const perRow = d * 4 * (unit ? 4 : 3) + (s.corpus.dtype === 'float32' ? 0 : d * 8)
  const groupRows = Math.min(Math.max(1, s.queries.rows), s.maxGroup ?? Infinity, Math.floor(s.maxMemory / 3 / perQuery))
  if (groupRows < 1 || groupRows * perQuery + perRow > s.maxMemory) {
    throw new CliError(`--max-memory: expected at least ${3 * (perQuery + perRow)} bytes (k = ${s.search.k} neighbours a query and a corpus row), received ${s.maxMemory}`)
  }
  return { groupRows, blockRows: Math.max(1, Math.floor((s.maxMemory - groupRows * perQuery) / perRow)) }
}

/**
 * Rows [start, end) of a 2-D corpus file as float32 (float64 rounded, integers converted, as
 * the in-memory reader does), every value finite.
 */
function readBlock(s: Stream, start: number, end: number, buffers: Buffers, slot: 0 | 1): Piece {
  const values = (end - start) * s.queries.cols
  const own = (buffers[slot] ??= new Float32Array(values))
  let data: Float32Array
  if (s.corpus.dtype === 'float32') {
    data = s.corpus.readRows(start, end, own) as Float32Array
  } else {
    const raw = s.corpus.readRows(start, end, (buffers.raw ??= new ARRAYS[s.corpus.dtype](values)))
    data = own.subarray(0, values)
    for (let i = 0; i < values; i++) data[i] = Number(raw[i])
  }
  checkFinite(data, s.queries.cols, start, s.corpusPath)
  return { data, rows: end - start, offset: start }
}

const ARRAYS = { float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const

/**
 * The two float32 buffers blocks are read into in turn (one is searched while the other is
 * filled), and the read buffer of a file of another dtype: a run allocates them once.
 */
interface Buffers {
  0?: Float32Array
  1?: Float32Array
  raw?: Float64Array | Int32Array | BigInt64Array
}

/**
 * Searches every query against the corpus rows [start, end), block by block, and hands
 * `consume` each group of queries' `k` nearest of them (global indices, ascending by distance,
 * ties to the lower index), the groups in query order.
 */
export async function streamSearch(s: Stream, consume: (queryStart: number, lists: Lists) => void): Promise<void> {
  const total = s.end - s.start
  const q = s.queries
  if (q.rows === 0) return
  if (total === 0) return consume(0, emptyLists(q.rows, s.search.k))
  const { groupRows, blockRows } = plan(s)
  const { search } = s
  const groups = Math.ceil(q.rows / groupRows)
  const buffers: Buffers = {}
  for (let g0 = 0; g0 < q.rows; g0 += groupRows) {
    const g1 = Math.min(q.rows, g0 + groupRows)
    const group = q.data.subarray(g0 * q.cols, g1 * q.cols)
    let acc = emptyLists(g1 - g0, search.k)
    let slot: 0 | 1 = 0
    let next: Piece | undefined = readBlock(s, s.start, Math.min(s.end, s.start + blockRows), buffers, slot)
    while (next !== undefined) {
      const piece: Piece = next
      if (g0 === 0) s.onBlock?.(piece)
      const work = searchPiece(search, group, g1 - g0, g0, piece)
      // The device works on its own threads: the next block is read meanwhile.
      const after = piece.offset + piece.rows
      try {
        slot = slot === 0 ? 1 : 0
        next = after < s.end ? readBlock(s, after, Math.min(s.end, after + blockRows), buffers, slot) : undefined
      } catch (err) {
        await work.catch(() => undefined)
        throw err
      }
      acc = mergePiece(search, acc, await work, piece, g0)
      s.onProgress(Math.round((g0 / groupRows) * total) + after - s.start, groups * total)
    }
    consume(g0, acc)
  }
}
