/**
 * Exact k-nearest neighbours (API.md `knn`), the simple way: for each query, the distance to
 * every corpus row, then a full sort by (distance, index) so ties go to the lower corpus index.
 *
 * Distances are computed in float64 and rounded to float32 before sorting, so the order is
 * that of the distances returned. `excludeSelf` drops corpus index `queryOffset + i` for query
 * i (docs/SEMANTICS.md "knn"). Only one query row of distances exists at a time. The corpus is
 * kept (and normalised) once per index, as the native backend does.
 */
import type { KnnResult, MetricOptions, SearchOptions } from '../backend'
import { checkK } from './rules'
import { distance, type MetricName, normalizeRows, parseMetric } from './distance'

/** A corpus searched by batches of queries. */
export class KnnIndex {
  private readonly corpus: Float32Array
  private readonly metric: MetricName
  private readonly normalize: boolean

  constructor(corpus: Float32Array, private readonly rows: number, private readonly cols: number, opts?: MetricOptions | null) {
    this.metric = parseMetric(opts?.metric)
    this.normalize = opts?.normalize ?? false
    this.corpus = this.normalize ? normalizeRows(corpus, rows, cols) : corpus
  }

  /** The k nearest corpus rows of every query row. */
  search(queries: Float32Array, queryRows: number, opts: SearchOptions): KnnResult {
    const { rows, cols, metric } = this
    const excludeSelf = opts.excludeSelf ?? false
    const k = opts.k
    checkK(k, rows, excludeSelf)
    const q = this.normalize ? normalizeRows(queries, queryRows, cols) : queries
    const c = this.corpus
    const indices = new Int32Array(queryRows * k)
    const distances = new Float32Array(queryRows * k)
    const dist = new Float32Array(rows)
    for (let i = 0; i < queryRows; i++) {
      const self = excludeSelf ? (opts.queryOffset ?? 0) + i : -1
      const order: number[] = []
      for (let j = 0; j < rows; j++) {
        if (j === self) continue
        dist[j] = distance(q, i * cols, c, j * cols, cols, metric)
        order.push(j)
      }
      order.sort((u, v) => (dist[u] < dist[v] ? -1 : dist[u] > dist[v] ? 1 : u - v))
      for (let t = 0; t < k; t++) {
        indices[i * k + t] = order[t]
        distances[i * k + t] = dist[order[t]]
      }
    }
    return { indices, distances }
  }
}

/** One search against a corpus used once. */
export function knn(queries: Float32Array, queryRows: number, corpus: Float32Array, corpusRows: number, cols: number,
  opts: MetricOptions | null | undefined, search: SearchOptions): KnnResult {
  return new KnnIndex(corpus, corpusRows, cols, opts).search(queries, queryRows, search)
}
