/**
 * mineHardNegatives: hard negatives for a whole data set (as sentence-transformers'
 * `mine_hard_negatives`), on top of knn: each batch of queries is searched on the device, and
 * its ranked candidates are filtered and sampled here as they arrive, so memory stays linear in
 * the input whatever the corpus size.
 */

import type { KnnResult as BackendKnnResult } from './backend'
import { prepareKnn, searchBatches, searchBatchesSync, type KnnCall } from './knn'
import { seeded } from './linalg'
import { toMatrix } from './matrix'
import type { HardNegatives, Matrix, MatrixLike, MineHardNegativesOptions, Similarity } from './types'
import {
  DEVICES, checkCallback, checkEnum, checkFinite, checkInteger, checkPositiveInteger, checkResultSize, checkSignal,
  toIndices,
} from './validate'
import { OPTION_KEYS, readOptions } from './options'

const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot']
const SAMPLINGS = ['top', 'random'] as const

interface Mining {
  knn: KnnCall
  corpus: Matrix
  positives: Int32Array
  numNegatives: number
  rangeMin: number
  rangeMax: number
  keep: (s: number, positive: number) => boolean
  similarity: Similarity
  random: (() => number) | undefined
  out: HardNegatives
}

function prepare(queries: MatrixLike, corpus: MatrixLike, positives: Int32Array | readonly number[],
  opts: MineHardNegativesOptions | undefined): Mining {
  const o = readOptions(opts, OPTION_KEYS.hardNegatives)
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(corpus, 'corpus')
  const pos = toIndices(positives, 'positives', c.rows, 'the rows of corpus')
  if (pos.length !== q.rows) throw new RangeError(`positives: expected ${q.rows} indices (one per query), received ${pos.length}`)
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
  const device = checkEnum(o.device, 'opts.device', DEVICES, 'auto')
  checkCallback(o.onProgress, 'opts.onProgress')
  checkSignal(o.signal)
  if (o.batchSize !== undefined) checkPositiveInteger(o.batchSize, 'opts.batchSize')
  // The positive may rank among the first rangeMax, so one more neighbour is searched.
  const k = Math.max(1, Math.min(rangeMax + 1, c.rows))
  const knn = prepareKnn(q, c.rows > 0 ? c : { data: new Float32Array(q.cols), rows: 1, cols: q.cols }, {
    k, metric: similarity, device, batchSize: o.batchSize, signal: o.signal, onProgress: o.onProgress,
  }, (limit, on) => `opts.rangeMax: expected at most ${limit - 1} on device '${on}' (rangeMax + 1 neighbours are searched), received ${rangeMax}`)
  const keep = (s: number, p: number): boolean =>
    (absoluteMargin === undefined || s <= p - absoluteMargin) &&
    (relativeMargin === undefined || s <= p * (1 - relativeMargin)) &&
    (maxScore === undefined || s <= maxScore) &&
    (minScore === undefined || s >= minScore)
  const cells = q.rows * numNegatives
  checkResultSize(cells, 8, `opts.numNegatives: ${q.rows} queries × ${numNegatives} negatives`, 'ask for fewer negatives or fewer queries at once')
  return {
    knn, corpus: c, positives: pos, numNegatives, rangeMin, rangeMax, keep, similarity,
    random: sampling === 'random' ? seeded(seed) : undefined,
    out: { negatives: new Int32Array(cells).fill(-1), scores: new Float32Array(cells).fill(NaN), rows: q.rows, numNegatives },
  }
}

/** s(q_i, c_j) in float64, rounded to float32 like the searched scores. */
function similarity(m: Mining, i: number, j: number): number {
  const { data: qd, cols } = m.knn.queries
  const cd = m.corpus.data
  let dot = 0, nq = 0, nc = 0
  for (let t = 0; t < cols; t++) {
    const a = qd[i * cols + t], b = cd[j * cols + t]
    dot += a * b
    nq += a * a
    nc += b * b
  }
  if (m.similarity === 'dot') return Math.fround(dot)
  return nq === 0 || nc === 0 ? 0 : Math.fround(dot / Math.sqrt(nq * nc))
}

/** Filters and samples the ranked candidates of query rows [start, end) into the result. */
function consume(m: Mining, start: number, end: number, part: BackendKnnResult): void {
  const k = m.knn.k
  const picked: number[] = []
  const scores: number[] = []
  for (let i = start; i < end; i++) {
    picked.length = 0
    scores.length = 0
    const p = m.positives[i]
    const sPositive = m.corpus.rows > 0 ? similarity(m, i, p) : NaN
    let rank = 0
    for (let t = 0; t < k && rank < m.rangeMax; t++) {
      const j = part.indices[(i - start) * k + t]
      if (j === p || j < 0 || m.corpus.rows === 0) continue
      // knn ranks by distance: −s for dot, 1 − s for cosine.
      const d = part.distances[(i - start) * k + t]
      const s = Math.fround(m.similarity === 'dot' ? -d : 1 - d)
      if (rank >= m.rangeMin && m.keep(s, sPositive)) {
        picked.push(j)
        scores.push(s)
      }
      rank++
    }
    const take = Math.min(m.numNegatives, picked.length)
    const order = m.random === undefined ? picked.map((_, t) => t) : draw(picked.length, take, m.random)
    for (let t = 0; t < take; t++) {
      m.out.negatives[i * m.numNegatives + t] = picked[order[t]]
      m.out.scores[i * m.numNegatives + t] = scores[order[t]]
    }
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
 * @param corpus - `m × d` corpus.
 * @param positives - one corpus index per query.
 * @param opts - `numNegatives` (3), `rangeMin` (0), `rangeMax` (100), `absoluteMargin`,
 *   `relativeMargin`, `maxScore`, `minScore`, `sampling` ('top'), `seed` (0), `similarity`
 *   ('cosine'), `device`, `batchSize`, `signal`, `onProgress`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { negatives } = await mineHardNegatives(questions, passages, answerIndex, { numNegatives: 5, relativeMargin: 0.05 })
 */
export async function mineHardNegatives(queries: MatrixLike, corpus: MatrixLike, positives: Int32Array | readonly number[],
  opts?: MineHardNegativesOptions): Promise<HardNegatives> {
  const m = prepare(queries, corpus, positives, opts)
  await searchBatches(m.knn, (start, end, part) => consume(m, start, end, part))
  return m.out
}

/** Synchronous twin of {@link mineHardNegatives}: same arguments, returns the result directly. */
export function mineHardNegativesSync(queries: MatrixLike, corpus: MatrixLike, positives: Int32Array | readonly number[],
  opts?: MineHardNegativesOptions): HardNegatives {
  const m = prepare(queries, corpus, positives, opts)
  searchBatchesSync(m.knn, (start, end, part) => consume(m, start, end, part))
  return m.out
}
