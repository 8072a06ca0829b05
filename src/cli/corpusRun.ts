/**
 * What the commands that read a corpus file in blocks share: opening the corpus (or this
 * shard's slice of it), planning the streamed search, and writing the outputs.
 */
import { writeNpy } from '../npy'
import { planSearch, type Piece } from '../pieceSearch'
import type { Lists } from '../neighbours'
import type { Matrix, Metric } from '../types'
import type { Common } from './commands'
import { CliError, matrixShape, openFile, writeFiles } from './io'
import { defaultMaxMemory } from './memoryFlag'
import { queryMeta, type PartMeta } from './parts'
import { progress } from './progress'
import { shardSlice, type ShardSpec } from './shards'
import { streamSearch } from './stream'

/** Options of every command that reads a corpus in blocks. */
export interface CorpusOptions extends Common {
  maxMemory?: number
  shard?: ShardSpec
  /** The most queries searched together (`--batch-size`). */
  batchSize?: number
}

/** An open corpus file: its shape and the rows [start, end) this run searches. */
export interface OpenCorpus {
  corpus: ReturnType<typeof openFile>
  path: string
  rows: number
  dim: number
  start: number
  end: number
}

/** Opens the corpus, checks it against the queries, and says which rows this run searches. */
export function openCorpus(path: string, q: Matrix, o: CorpusOptions): OpenCorpus {
  const corpus = openFile(path)
  try {
    const [rows, dim] = matrixShape(corpus, path)
    if (q.rows > 0 && rows > 0 && dim !== q.cols) throw new CliError(`${path}: expected ${q.cols} columns (those of the queries), received ${dim}`)
    if (rows > 2 ** 31 - 1) throw new CliError(`${path}: expected at most 2³¹ − 1 rows (indices are int32), received ${rows}`)
    const [start, end] = o.shard === undefined ? [0, rows] : shardSlice(o.shard, rows)
    return { corpus, path, rows, dim, start, end }
  } catch (err) {
    corpus.close()
    throw err
  }
}

/** How a streamed search measures, and the message for a k past what the device searches. */
export interface How {
  metric: Metric
  normalize: boolean
  excludeSelf: boolean
  tooMany: (limit: number, device: string) => string
}

/**
 * Plans a streamed search of this run's rows, with its progress bar. The device is chosen for
 * the whole corpus, as one run over it would choose ('auto' then picks the same device in every
 * shard), and parts record it.
 */
export function planStream(q: Matrix, c: OpenCorpus, o: CorpusOptions, title: string, k: number, how: How, onBlock?: (piece: Piece) => void) {
  let search: ReturnType<typeof planSearch>
  try {
    search = planSearch(o.device, how.metric, how.normalize, undefined, q.rows, c.rows, q.cols, k, how.excludeSelf, how.tooMany)
  } catch (err) {
    throw err instanceof RangeError ? new CliError(err.message) : err
  }
  const bar = progress(title, o.quiet)
  return {
    run: (consume: (queryStart: number, lists: Lists) => void) => streamSearch({
      queries: q, corpus: c.corpus, corpusPath: c.path, start: c.start, end: c.end, search, onBlock, maxGroup: o.batchSize,
      maxMemory: o.maxMemory ?? defaultMaxMemory(), onProgress: (done, total) => bar.update(done, total),
    }, consume),
    bar,
    device: search.target.device,
  }
}

/** Refuses the flags of a whole run's second output on a shard, and a part not named `.npz`. */
export function checkShardOutputs(o: CorpusOptions & { out: string }, second: 'distances' | 'scores', given: string | undefined): void {
  if (o.shard === undefined) return
  if (given !== undefined) throw new CliError(`--${second}: a shard writes one part (--out); tripletkit merge writes the ${second}`)
  if (!o.out.endsWith('.npz')) throw new CliError(`--out: expected a path ending in .npz for a shard's part, received '${o.out}'`)
}

/** What a part of this run says about itself. */
export function partMeta(kind: PartMeta['kind'], shard: ShardSpec, c: OpenCorpus, q: Matrix, search: Record<string, unknown>): PartMeta {
  return {
    format: 'tripletkit-part', version: 1, kind, shard: [shard.index, shard.count], slice: [c.start, c.end],
    corpus: { rows: c.rows, dim: c.dim }, queries: queryMeta(q), search,
  }
}

/** Writes the indices and, when asked, the values beside them, both or neither. */
export function writeResults(out: string, indices: Int32Array, valuesPath: string | undefined, values: Float32Array, shape: number[]): void {
  const files = [{ path: out, bytes: writeNpy({ data: indices, shape }) }]
  if (valuesPath !== undefined) files.push({ path: valuesPath, bytes: writeNpy({ data: values, shape }) })
  writeFiles(files)
}
