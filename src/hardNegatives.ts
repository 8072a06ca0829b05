/**
 * mineHardNegatives: hard negatives for a whole data set (as sentence-transformers'
 * `mine_hard_negatives`), on top of knn: each batch of queries is searched on the device, and
 * its ranked candidates are filtered and sampled here as they arrive, so memory stays linear in
 * the input whatever the corpus size.
 */

import type { KnnResult as BackendKnnResult } from './backend'
import { prepareKnn, searchBatches, searchBatchesSync, type KnnCall } from './knn'
import { KnnIndex, piecesOf, rowOf } from './knnIndex'
import { defaultBatch, planSearch, searchPieces, searchPiecesSync } from './pieceSearch'
import { seeded } from './linalg'
import type { Lists } from './neighbours'
import { toMatrix } from './matrix'
import type { HardNegatives, Matrix, MatrixLike, MineHardNegativesOptions, Similarity } from './types'
import {
  DEVICES, checkCallback, checkEnum, checkFinite, checkInteger, checkPositiveInteger, checkResultSize, checkSignal,
  toIndices,
} from './validate'
import { OPTION_KEYS, readOptions } from './options'

const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot']
const SAMPLINGS = ['top', 'random'] as const

/** What happens to each query's ranked candidates: the rank range, the filters and the sampling. */
export interface Rules {
  numNegatives: number
  rangeMin: number
  rangeMax: number
  keep: (s: number, positive: number) => boolean
  similarity: Similarity
  random: (() => number) | undefined
}

interface Mining extends Rules {
  knn: KnnCall
  corpus: Matrix
  positives: Int32Array
  out: HardNegatives
}

/** Internal: checks the options that decide what is kept (everything but the search's own). */
export function readRules(o: Partial<MineHardNegativesOptions>): Rules {
  const numNegatives = checkInteger(o.numNegatives ?? 3, 'opts.numNegatives', 1)
  const rangeMin = checkInteger(o.rangeMin ?? 0, 'opts.rangeMin', 0)
  const rangeMax = checkInteger(o.rangeMax ?? 100, 'opts.rangeMax', rangeMin + 1, Number.MAX_SAFE_INTEGER,
    `an integer greater than opts.rangeMin = ${rangeMin}`)
  const bounds = (['absoluteMargin', 'relativeMargin', 'maxScore', 'minScore'] as const)
    .map((name) => (o[name] === undefined ? undefined : checkFinite(o[name], `opts.${name}`)))
  const [absoluteMargin, relativeMargin, maxScore, minScore] = bounds
  const sampling = checkEnum(o.sampling, 'opts.sampling', SAMPLINGS, 'top')
  const seed = checkInteger(o.seed ?? 0, 'opts.seed', Number.MIN_SAFE_INTEGER)
  const similarity = checkEnum(o.similarity, 'opts.similarity', SIMILARITIES, 'cosine')
  const keep = (s: number, p: number): boolean =>
    (absoluteMargin === undefined || s <= p - absoluteMargin) &&
    (relativeMargin === undefined || s <= p * (1 - relativeMargin)) &&
    (maxScore === undefined || s <= maxScore) &&
    (minScore === undefined || s >= minScore)
  return { numNegatives, rangeMin, rangeMax, keep, similarity, random: sampling === 'random' ? seeded(seed) : undefined }
}

/** Internal: the neighbours searched per query: rangeMax + 1 (the positive may rank among them), at most the corpus. */
export function candidateCount(rangeMax: number, corpusRows: number): number {
  return Math.max(1, Math.min(rangeMax + 1, corpusRows))
}

/** Internal: an empty result, −1 and NaN in every place. */
export function emptyNegatives(rows: number, numNegatives: number): HardNegatives {
  const cells = rows * numNegatives
  checkResultSize(cells, 8, `opts.numNegatives: ${rows} queries × ${numNegatives} negatives`, 'ask for fewer negatives or fewer queries at once')
  return { negatives: new Int32Array(cells).fill(-1), scores: new Float32Array(cells).fill(NaN), rows, numNegatives }
}

/** Internal: the search's own options (device, batches, progress, abort), checked. */
export function readSearch(o: Partial<MineHardNegativesOptions>) {
  const device = checkEnum(o.device, 'opts.device', DEVICES, 'auto')
  const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
  const signal = checkSignal(o.signal)
  const batchSize = o.batchSize === undefined ? undefined : checkPositiveInteger(o.batchSize, 'opts.batchSize')
  return { device, onProgress, signal, batchSize }
}

function prepare(queries: MatrixLike, corpus: MatrixLike, positives: Int32Array | readonly number[],
  opts: MineHardNegativesOptions | undefined): Mining {
  const o = readOptions(opts, OPTION_KEYS.hardNegatives)
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(corpus, 'corpus')
  const pos = toIndices(positives, 'positives', c.rows, 'the rows of corpus')
  if (pos.length !== q.rows) throw new RangeError(`positives: expected ${q.rows} indices (one per query), received ${pos.length}`)
  const rules = readRules(o)
  const { device, batchSize, signal, onProgress } = readSearch(o)
  const k = candidateCount(rules.rangeMax, c.rows)
  const knn = prepareKnn(q, c.rows > 0 ? c : { data: new Float32Array(q.cols), rows: 1, cols: q.cols }, {
    k, metric: rules.similarity, device, batchSize, signal, onProgress,
  }, tooManyCandidates(rules.rangeMax))
  return { ...rules, knn, corpus: c, positives: pos, out: emptyNegatives(q.rows, rules.numNegatives) }
}

/** Internal: s(q, c) of two rows in float64, rounded to float32 like the searched scores. */
export function rowSimilarity(similarity: Similarity, q: Float32Array, qStart: number, c: Float32Array, cStart: number, cols: number): number {
  let dot = 0, nq = 0, nc = 0
  for (let t = 0; t < cols; t++) {
    const a = q[qStart + t], b = c[cStart + t]
    dot += a * b
    nq += a * a
    nc += b * b
  }
  if (similarity === 'dot') return Math.fround(dot)
  return nq === 0 || nc === 0 ? 0 : Math.fround(dot / Math.sqrt(nq * nc))
}

/** Filters and samples the ranked candidates of query rows [start, end) into the result. */
function consume(m: Mining, start: number, end: number, part: BackendKnnResult): void {
  const { data: qd, cols } = m.knn.queries
  for (let i = start; i < end; i++) {
    const p = m.positives[i]
    const sPositive = m.corpus.rows > 0 ? rowSimilarity(m.similarity, qd, i * cols, m.corpus.data, p * cols, cols) : NaN
    pickRow(m, m.out, i, part.indices, part.distances, (i - start) * m.knn.k, m.knn.k, m.corpus.rows > 0 ? p : -1, sPositive)
  }
}

/**
 * Internal: query row i's negatives from its `k` ranked candidates at `at` of `indices` /
 * `distances` (knn distances: −s for dot, 1 − s for cosine): the positive `p` passed over,
 * ranks [rangeMin, rangeMax) considered, the filters applied, then 'top' or 'random'.
 */
export function pickRow(r: Rules, out: HardNegatives, i: number, indices: Int32Array, distances: Float32Array,
  at: number, k: number, p: number, sPositive: number): void {
  const picked: number[] = []
  const scores: number[] = []
  let rank = 0
  for (let t = 0; t < k && rank < r.rangeMax; t++) {
    const j = indices[at + t]
    if (j === p || j < 0) continue
    const d = distances[at + t]
    const s = Math.fround(r.similarity === 'dot' ? -d : 1 - d)
    if (rank >= r.rangeMin && r.keep(s, sPositive)) {
      picked.push(j)
      scores.push(s)
    }
    rank++
  }
  const take = Math.min(r.numNegatives, picked.length)
  const order = r.random === undefined ? picked.map((_, t) => t) : draw(picked.length, take, r.random)
  for (let t = 0; t < take; t++) {
    out.negatives[i * r.numNegatives + t] = picked[order[t]]
    out.scores[i * r.numNegatives + t] = scores[order[t]]
  }
}

/** `take` of 0..n−1 without replacement (a partial Fisher–Yates), returned in ascending order. */
function draw(n: number, take: number, random: () => number): number[] {
  const pool = Array.from({ length: n }, (_, t) => t)
  for (let t = 0; t < take; t++) {
    const u = t + Math.floor(random() * (n - t))
    ;[pool[t], pool[u]] = [pool[u], pool[t]]
  }
  return pool.slice(0, take).sort((x, y) => x - y)
}

/**
 * Hard negatives for every query of a data set, as sentence-transformers'
 * `mine_hard_negatives`: `positives[i]` is the corpus index of query i's positive; the other
 * corpus items are ranked by similarity s to the query (descending, ties to the lower index);
 * ranks `rangeMin ≤ r < rangeMax` are considered; then the filters keep the candidates with
 * s ≤ s(positive) − `absoluteMargin`, s ≤ s(positive) · (1 − `relativeMargin`),
 * s ≤ `maxScore` and s ≥ `minScore` (each when given); then `'top'` takes the first
 * `numNegatives` and `'random'` draws `numNegatives` of them with a seeded generator (listed in
 * rank order). Rows with fewer get −1 (score NaN) in the places left.
 *
 * The search runs on `device` in batches of query rows, with `onProgress` and `signal` between
 * them; memory is linear in the input (rows × (rangeMax + 1) neighbours per batch, at most).
 *
 * @param queries - `rows × d` queries.
 * @param corpus - `m × d` corpus, or a {@link KnnIndex} holding it (searched with
 *   `opts.similarity`; the index's own metric is not used).
 * @param positives - one corpus index per query.
 * @param opts - `numNegatives` (3), `rangeMin` (0), `rangeMax` (100), `absoluteMargin`,
 *   `relativeMargin`, `maxScore`, `minScore`, `sampling` ('top'), `seed` (0), `similarity`
 *   ('cosine'), `device`, `batchSize`, `signal`, `onProgress`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { negatives } = await mineHardNegatives(questions, passages, answerIndex, { numNegatives: 5, relativeMargin: 0.05 })
 */
export async function mineHardNegatives(queries: MatrixLike, corpus: MatrixLike | KnnIndex, positives: Int32Array | readonly number[],
  opts?: MineHardNegativesOptions): Promise<HardNegatives> {
  if (corpus instanceof KnnIndex) {
    const m = prepareIndexed(queries, corpus, positives, opts)
    if (m.s !== undefined) await searchPieces(m.s, m.q, piecesOf(corpus), m.batchSize, m.search.signal, m.search.onProgress, m.consume)
    return m.out
  }
  const m = prepare(queries, corpus, positives, opts)
  await searchBatches(m.knn, (start, end, part) => consume(m, start, end, part))
  return m.out
}

/** Synchronous twin of {@link mineHardNegatives}: same arguments, returns the result directly. */
export function mineHardNegativesSync(queries: MatrixLike, corpus: MatrixLike | KnnIndex, positives: Int32Array | readonly number[],
  opts?: MineHardNegativesOptions): HardNegatives {
  if (corpus instanceof KnnIndex) {
    const m = prepareIndexed(queries, corpus, positives, opts)
    if (m.s !== undefined) searchPiecesSync(m.s, m.q, piecesOf(corpus), m.batchSize, m.search.signal, m.search.onProgress, m.consume)
    return m.out
  }
  const m = prepare(queries, corpus, positives, opts)
  searchBatchesSync(m.knn, (start, end, part) => consume(m, start, end, part))
  return m.out
}

/** Internal: the message for a rangeMax past what the device searches. */
export function tooManyCandidates(rangeMax: number): (limit: number, device: string) => string {
  return (limit, on) => `opts.rangeMax: expected at most ${limit - 1} on device '${on}' (rangeMax + 1 neighbours are searched), received ${rangeMax}`
}

/**
 * mineHardNegatives over a KnnIndex: its pieces are searched with `opts.similarity` (the
 * index's own metric is not used), and the positives' scores come from its rows as added.
 */
function prepareIndexed(queries: MatrixLike, index: KnnIndex, positives: Int32Array | readonly number[], opts: MineHardNegativesOptions | undefined) {
  const o = readOptions(opts, OPTION_KEYS.hardNegatives)
  const q = toMatrix(queries, 'queries')
  if (q.rows > 0 && index.dim !== undefined && q.cols !== index.dim) {
    throw new RangeError(`queries: expected ${index.dim} columns (the corpus index's dim), received ${q.cols}`)
  }
  const pos = toIndices(positives, 'positives', index.size, 'the rows of corpus')
  if (pos.length !== q.rows) throw new RangeError(`positives: expected ${q.rows} indices (one per query), received ${pos.length}`)
  const rules = readRules(o)
  const search = readSearch(o)
  const k = candidateCount(rules.rangeMax, index.size)
  const out = emptyNegatives(q.rows, rules.numNegatives)
  const s = q.rows === 0 ? undefined
    : planSearch(search.device, rules.similarity, false, undefined, q.rows, index.size, q.cols, k, false, tooManyCandidates(rules.rangeMax))
  const consume = (start: number, end: number, acc: Lists): void => {
    for (let i = start; i < end; i++) {
      const p = pos[i]
      const sPositive = rowSimilarity(rules.similarity, q.data, i * q.cols, rowOf(index, p), 0, q.cols)
      pickRow(rules, out, i, acc.indices, acc.distances, (i - start) * k, k, p, sPositive)
    }
  }
  return { q, s, out, search, consume, batchSize: search.batchSize ?? defaultBatch(index.size) }
}
