/**
 * Retrieval metrics as pytorch-metric-learning's AccuracyCalculator defines them
 * (API.md `retrievalMetrics`, docs/SEMANTICS.md "Retrieval").
 *
 * For each query, the references are ranked by (float32 distance, index); when searching a set
 * against itself the query's own row is not a candidate. R = references with the query's label;
 * queries with R = 0 are left out of every mean. With c candidates per query, k_eff = min(k, c)
 * and R_max = the largest R over the kept queries:
 *   precisionAt1  first result relevant
 *   rPrecision    relevant fraction of the first R
 *   mapAtR        (1/R) Σ_{i ≤ R} P(i)·rel(i), P(i) = precision of the first i
 *   mrr           1/rank of the first relevant result if rank ≤ min(max(R_max, k), c), else 0
 *   recallAtK     at least one relevant among the first k_eff
 *   precisionAtK  relevant fraction of the first k_eff
 * All are means over the kept queries (0 when none is kept).
 */
import type { RetrievalOptions, RetrievalResult } from '../backend'
import { invalidArgument } from './common'
import { distance, normalizeRows, parseMetric } from './distance'
import { checkLabels } from './rules'

export function retrievalMetrics(
  queries: Float32Array, queryRows: number, queryLabels: Int32Array,
  reference: Float32Array | null | undefined, referenceRows: number, referenceLabels: Int32Array | null | undefined,
  cols: number, opts?: RetrievalOptions | null,
): RetrievalResult {
  const metric = parseMetric(opts?.metric)
  const normalize = opts?.normalize ?? false
  const k = opts?.k ?? 10
  if (!(Number.isInteger(k) && k >= 1)) throw invalidArgument(`k: expected an integer ≥ 1, received ${k}`)
  checkLabels('queryLabels', queryLabels, queryRows)
  if (reference != null) checkLabels('referenceLabels', referenceLabels ?? new Int32Array(0), referenceRows)
  const self = reference == null
  const q = normalize ? normalizeRows(queries, queryRows, cols) : queries
  const ref = self ? q : normalize ? normalizeRows(reference, referenceRows, cols) : reference
  const refRows = self ? queryRows : referenceRows
  const refLabels = self ? queryLabels : referenceLabels ?? new Int32Array(0)
  const candidates = self ? Math.max(0, queryRows - 1) : referenceRows
  const kEff = Math.min(Math.max(0, Math.floor(k)), candidates)

  // R for every query, then R_max over the kept ones (it sets the MRR window).
  const relevantCount = new Int32Array(queryRows)
  let rMax = 0
  for (let i = 0; i < queryRows; i++) {
    let r = 0
    for (let j = 0; j < refRows; j++) if (!(self && j === i) && refLabels[j] === queryLabels[i]) r++
    relevantCount[i] = r
    if (r > rMax) rMax = r
  }
  const mrrWindow = Math.min(Math.max(rMax, k), candidates)

  const sums = { precisionAt1: 0, rPrecision: 0, mapAtR: 0, mrr: 0, recallAtK: 0, precisionAtK: 0 }
  let kept = 0
  const dist = new Float32Array(refRows)
  for (let i = 0; i < queryRows; i++) {
    const R = relevantCount[i]
    if (R === 0) continue
    kept++
    const order: number[] = []
    for (let j = 0; j < refRows; j++) {
      if (self && j === i) continue
      dist[j] = distance(q, i * cols, ref, j * cols, cols, metric)
      order.push(j)
    }
    order.sort((u, v) => (dist[u] < dist[v] ? -1 : dist[u] > dist[v] ? 1 : u - v))
    const rel = (rank: number): boolean => refLabels[order[rank]] === queryLabels[i] // rank is 0-based

    sums.precisionAt1 += rel(0) ? 1 : 0
    let hits = 0
    let ap = 0
    for (let t = 0; t < R; t++) {
      if (rel(t)) {
        hits++
        ap += hits / (t + 1) // P(t+1) at a relevant position
      }
    }
    sums.rPrecision += hits / R
    sums.mapAtR += ap / R
    for (let t = 0; t < mrrWindow; t++) {
      if (rel(t)) {
        sums.mrr += 1 / (t + 1)
        break
      }
    }
    let hitsK = 0
    for (let t = 0; t < kEff; t++) if (rel(t)) hitsK++
    sums.recallAtK += hitsK > 0 ? 1 : 0
    sums.precisionAtK += kEff > 0 ? hitsK / kEff : 0
  }

  const mean = (s: number): number => (kept > 0 ? s / kept : 0)
  return {
    precisionAt1: mean(sums.precisionAt1),
    rPrecision: mean(sums.rPrecision),
    mapAtR: mean(sums.mapAtR),
    mrr: mean(sums.mrr),
    recallAtK: mean(sums.recallAtK),
    precisionAtK: mean(sums.precisionAtK),
    queries: kept,
  }
}
