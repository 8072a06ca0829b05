/**
 * Exact k-nearest neighbours (API.md `knn`), the simple way: for each query, the distance to
 * every corpus row, then a full sort by (distance, index) so ties go to the lower corpus index.
 *
 * Distances are computed in float64 and rounded to float32 before sorting, so the order is
 * that of the distances returned. `excludeSelf` drops corpus index `queryOffset + i` for query
 * i (docs/SEMANTICS.md "knn"). Only one query row of distances exists at a time.
 */
import type { KnnOptions, KnnResult } from '../backend'
import { distance, normalizeRows, parseMetric } from './distance'

export function knn(
  queries: Float32Array, queryRows: number, corpus: Float32Array, corpusRows: number, cols: number, opts: KnnOptions,
): KnnResult {
  const metric = parseMetric(opts.metric)
  const k = Math.max(0, Math.floor(opts.k))
  const q = opts.normalize ? normalizeRows(queries, queryRows, cols) : queries
  const c = opts.normalize ? normalizeRows(corpus, corpusRows, cols) : corpus
  const indices = new Int32Array(queryRows * k)
  const distances = new Float32Array(queryRows * k)
  const dist = new Float32Array(corpusRows)
  for (let i = 0; i < queryRows; i++) {
    const self = opts.excludeSelf ? opts.queryOffset + i : -1
    const order: number[] = []
    for (let j = 0; j < corpusRows; j++) {
      if (j === self) continue
      dist[j] = distance(q, i * cols, c, j * cols, cols, metric)
      order.push(j)
    }
    order.sort((u, v) => (dist[u] < dist[v] ? -1 : dist[u] > dist[v] ? 1 : u - v))
    for (let t = 0; t < k; t++) {
      // The public layer guarantees k ≤ candidates; past that, pad rather than read out of bounds.
      const j = t < order.length ? order[t] : -1
      indices[i * k + t] = j
      distances[i * k + t] = j >= 0 ? dist[j] : Infinity
    }
  }
  return { indices, distances }
}
