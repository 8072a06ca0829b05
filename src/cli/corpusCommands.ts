/**
 * The commands that read a corpus file in blocks: `knn`, `mine-negatives` (each whole, or one
 * shard of n with `--shard i/n`, which writes a part) and `merge`, which turns the parts into
 * the whole run's files.
 */
import { writeNpy } from '../npy'
import { candidateCount, emptyNegatives, pickRow, readRules, rowSimilarity, tooManyCandidates } from '../hardNegatives'
import { memoryHeadroom } from '../memory'
import { planSearch, type Piece } from '../knnIndex'
import { emptyLists, type Lists } from '../neighbours'
import type { Matrix, MergeHardNegativesOptions, Metric, RetrievalMetrics, Similarity } from '../types'
import type { Common } from './commands'
import { CliError, matrixShape, openFile, readLabels, readMatrix, writeFiles } from './io'
import { fingerprint, mergeParts, partBytes, queryMeta, shardSlice, type PartMeta, type ShardSpec } from './parts'
import { progress } from './progress'
import { RetrievalSums, windows } from './retrievalLists'
import { streamSearch } from './stream'

/**
 * The default of `--max-memory`: a quarter of what this process may still allocate, at most
 * 192 MiB: blocks of that size already keep the device's fixed cost per block small, and larger
 * ones search no faster.
 */
export function defaultMaxMemory(): number {
  return Math.max(16 * 2 ** 20, Math.min(192 * 2 ** 20, Math.floor(memoryHeadroom() / 4)))
}

/** Parses a byte count: an integer, optionally with K, M or G (powers of 1024). */
export function parseBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(value.trim())
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(m?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g']
  const n = m === null ? NaN : Math.floor(Number(m[1]) * scale)
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`--max-memory: expected bytes, such as 1073741824, 512M or 2G, received '${value}'`)
  return n
}

/** Options of both corpus commands. */
export interface CorpusOptions extends Common {
  maxMemory?: number
  shard?: ShardSpec
}

/** Opens the corpus, checks it against the queries, and says which rows this run searches. */
function openCorpus(path: string, q: Matrix, o: CorpusOptions) {
  const corpus = openFile(path)
  try {
    const [rows, dim] = matrixShape(corpus, path)
    if (q.rows > 0 && rows > 0 && dim !== q.cols) throw new CliError(`${path}: expected ${q.cols} columns (those of the queries), received ${dim}`)
    if (rows > 2 ** 31 - 1) throw new CliError(`${path}: expected at most 2³¹ − 1 rows (indices are int32), received ${rows}`)
    const [start, end] = o.shard === undefined ? [0, rows] : shardSlice(o.shard, rows)
    return { corpus, rows, dim, start, end }
  } catch (err) {
    corpus.close()
    throw err
  }
}

/**
 * A streamed search of this run's rows. The device is chosen for the whole corpus, as one run
 * over it would choose ('auto' then picks the same device in every shard), and parts record it.
 */
function stream(q: Matrix, c: ReturnType<typeof openCorpus>, corpusPath: string, o: CorpusOptions, title: string,
  k: number, how: { metric: Metric; normalize: boolean; excludeSelf: boolean; tooMany?: (limit: number, device: string) => string },
  onBlock?: (piece: Piece) => void) {
  const search = planSearch(o.device, how.metric, how.normalize, undefined, q.rows, c.rows, q.cols, k, how.excludeSelf, how.tooMany)
  const bar = progress(title, o.quiet)
  return {
    run: (consume: (queryStart: number, lists: Lists) => void) => streamSearch({
      queries: q, corpus: c.corpus, corpusPath, start: c.start, end: c.end, search, onBlock,
      maxMemory: o.maxMemory ?? defaultMaxMemory(), onProgress: (done, total) => bar.update(done, total),
    }, consume),
    bar,
    device: search.target.device,
  }
}

/** Refuses the flags of a whole run's second output on a shard, and a part not named `.npz`. */
function checkShardOutputs(o: CorpusOptions & { out: string }, second: 'distances' | 'scores', given: string | undefined): void {
  if (o.shard === undefined) return
  if (given !== undefined) throw new CliError(`--${second}: a shard writes one part (--out); tripletkit merge writes the ${second}`)
  if (!o.out.endsWith('.npz')) throw new CliError(`--out: expected a path ending in .npz for a shard's part, received '${o.out}'`)
}

/** `tripletkit knn`: every query's k nearest corpus rows, the corpus read in blocks; with `--shard`, one part. */
export async function knnCommand(queries: string, corpusPath: string,
  o: CorpusOptions & { k: number; excludeSelf: boolean; out: string; distances?: string }): Promise<void> {
  const q = readMatrix(queries)
  const c = openCorpus(corpusPath, q, o)
  try {
    const most = c.rows - (o.excludeSelf ? 1 : 0)
    if (o.k > most) throw new CliError(`--k: expected an integer from 1 to ${most} (the corpus rows${o.excludeSelf ? " − 1, with --exclude-self" : ""}), received ${o.k}`)
    checkShardOutputs(o, 'distances', o.distances)
    const k = o.shard === undefined ? o.k : Math.min(o.k, c.end - c.start)
    const { run, bar, device } = stream(q, c, corpusPath, o, 'knn', k, { metric: o.metric, normalize: o.normalize, excludeSelf: o.excludeSelf })
    try {
      const lists = emptyLists(q.rows, k)
      await run((start, part) => {
        lists.indices.set(part.indices, start * k)
        lists.distances.set(part.distances, start * k)
      })
      if (o.shard !== undefined) {
        const meta = partMeta('knn', o.shard, c, q, { k: o.k, metric: o.metric, normalize: o.normalize, excludeSelf: o.excludeSelf, device })
        return writeFiles([{ path: o.out, bytes: partBytes(meta, lists) }])
      }
      writeResults(o.out, lists.indices, o.distances, lists.distances, [lists.rows, lists.k])
    } finally {
      bar.stop()
    }
  } finally {
    c.corpus.close()
  }
}

/** Options of `tripletkit mine-negatives`: mineHardNegatives' own, as flags. */
export interface MineNegativesOptions extends CorpusOptions {
  numNegatives: number
  rangeMin: number
  rangeMax: number
  absoluteMargin?: number
  relativeMargin?: number
  maxScore?: number
  minScore?: number
  sampling: 'top' | 'random'
  seed: number
  similarity: Similarity
  out: string
  scores?: string
}

function ruleOptions(o: MineNegativesOptions): MergeHardNegativesOptions {
  const { numNegatives, rangeMin, rangeMax, absoluteMargin, relativeMargin, maxScore, minScore, sampling, seed, similarity } = o
  return { numNegatives, rangeMin, rangeMax, absoluteMargin, relativeMargin, maxScore, minScore, sampling, seed, similarity }
}

/** `tripletkit mine-negatives`: mineHardNegatives on `.npy` files, the corpus read in blocks; with `--shard`, one part. */
export async function mineNegativesCommand(queries: string, corpusPath: string, positivesPath: string, o: MineNegativesOptions): Promise<void> {
  const q = readMatrix(queries)
  const positives = readLabels(positivesPath)
  if (positives.length !== q.rows) throw new CliError(`${positivesPath}: expected ${q.rows} positives (one per query), received ${positives.length}`)
  let rules: ReturnType<typeof readRules>
  try {
    rules = readRules(ruleOptions(o))
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^opts\.(\w+)/, (_, name: string) => `--${name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`))
  }
  checkShardOutputs(o, 'scores', o.scores)
  const c = openCorpus(corpusPath, q, o)
  try {
    positives.forEach((p, i) => {
      if (p < 0 || p >= c.rows) throw new CliError(`${positivesPath}: expected corpus rows from 0 to ${c.rows - 1}, received ${p} at ${i}`)
    })
    const k = Math.min(c.end - c.start, candidateCount(rules.rangeMax, c.rows))
    // Each query's positive score, from its row as it passes in a block (the in-memory rule: float64 over the rows).
    const positiveScores = new Float32Array(q.rows).fill(NaN)
    const onBlock = (piece: Piece): void => {
      for (let i = 0; i < q.rows; i++) {
        const p = positives[i] - piece.offset
        if (p >= 0 && p < piece.rows) positiveScores[i] = rowSimilarity(rules.similarity, q.data, i * q.cols, piece.data, p * q.cols, q.cols)
      }
    }
    const { run, bar, device } = stream(q, c, corpusPath, o, 'mine-negatives', k,
      { metric: o.similarity, normalize: false, excludeSelf: false, tooMany: tooManyCandidates(rules.rangeMax) }, onBlock)
    try {
      const out = emptyNegatives(q.rows, rules.numNegatives)
      const lists = o.shard === undefined ? undefined : emptyLists(q.rows, k)
      // A whole run picks each group's negatives as it comes (in query order, as the seeded
      // draws need); a shard keeps its candidates for the part.
      await run((start, part) => {
        if (lists !== undefined) {
          lists.indices.set(part.indices, start * k)
          lists.distances.set(part.distances, start * k)
          return
        }
        for (let r = 0; r < part.rows; r++) {
          const i = start + r
          pickRow(rules, out, i, part.indices, part.distances, r * k, k, positives[i], positiveScores[i])
        }
      })
      if (lists !== undefined) {
        const meta = partMeta('negatives', o.shard!, c, q, { rangeMax: o.rangeMax, similarity: o.similarity, rules: ruleOptions(o), positives: fingerprint(positives), device })
        return writeFiles([{ path: o.out, bytes: partBytes(meta, lists, { positives, positive_scores: positiveScores }) }])
      }
      writeResults(o.out, out.negatives, o.scores, out.scores, [out.rows, out.numNegatives])
    } finally {
      bar.stop()
    }
  } finally {
    c.corpus.close()
  }
}

function partMeta(kind: PartMeta['kind'], shard: ShardSpec, c: ReturnType<typeof openCorpus>, q: Matrix, search: Record<string, unknown>): PartMeta {
  return {
    format: 'tripletkit-part', version: 1, kind, shard: [shard.index, shard.count], slice: [c.start, c.end],
    corpus: { rows: c.rows, dim: c.dim }, queries: queryMeta(q), search,
  }
}

/** Writes the indices and, when asked, the values beside them, both or neither. */
function writeResults(out: string, indices: Int32Array, valuesPath: string | undefined, values: Float32Array, shape: number[]): void {
  const files = [{ path: out, bytes: writeNpy({ data: indices, shape }) }]
  if (valuesPath !== undefined) files.push({ path: valuesPath, bytes: writeNpy({ data: values, shape }) })
  writeFiles(files)
}

/** `tripletkit merge`: parts of knn or mine-negatives shards into the files one run writes. */
export function mergeCommand(parts: string[], o: { out: string; distances?: string; scores?: string }): string {
  const merged = mergeParts(parts)
  const [wanted, other] = merged.kind === 'knn' ? ['distances', 'scores'] as const : ['scores', 'distances'] as const
  if (o[other] !== undefined) throw new CliError(`--${other}: these are ${merged.kind === 'knn' ? 'knn' : 'mine-negatives'} parts; use --${wanted}`)
  writeResults(o.out, merged.a, o[wanted], merged.b, [merged.rows, merged.k])
  return `${parts.length} parts merged into ${o.out}`
}

/** `tripletkit eval --reference`: retrieval metrics against a reference file read in blocks. */
export async function evalAgainstFile(x: Matrix, labels: Int32Array, referencePath: string, referenceLabels: Int32Array,
  o: Common & { k?: number; maxMemory?: number }): Promise<RetrievalMetrics> {
  const c = openCorpus(referencePath, x, o)
  try {
    if (referenceLabels.length !== c.rows) throw new CliError(`--reference-labels: expected ${c.rows} labels (one per reference row), received ${referenceLabels.length}`)
    const w = windows(labels, referenceLabels, o.k ?? 10)
    const sums = new RetrievalSums()
    if (w.window > 0 && x.rows > 0) {
      const { run, bar } = stream(x, c, referencePath, o, 'eval', w.window, { metric: o.metric, normalize: o.normalize, excludeSelf: false })
      try {
        await run((start, lists) => {
          for (let r = 0; r < lists.rows; r++) sums.add(labels[start + r], referenceLabels, w, lists.indices, r * lists.k)
        })
      } finally {
        bar.stop()
      }
    }
    return sums.mean()
  } finally {
    c.corpus.close()
  }
}
