/**
 * Retrieval metrics from each query's neighbour list, for `tripletkit eval` against a reference
 * file read in blocks. The definitions and the order of every float64 operation are those of
 * the native core (crates/core/src/metrics/retrieval.rs), so a streamed run prints the numbers
 * an in-memory retrievalMetrics call on the cpu gives, to the last bit.
 */
import type { RetrievalMetrics } from '../types'

/** What ranks the metrics read: the relevant count of each label, k clamped to the candidates, and the window of neighbours needed. */
export interface Windows {
  counts: Map<number, number>
  k: number
  window: number
}

/** The windows of queries with `queryLabels` against a reference with `refLabels` (no self exclusion). */
export function windows(queryLabels: Int32Array, refLabels: Int32Array, k: number): Windows {
  const counts = new Map<number, number>()
  for (const l of refLabels) counts.set(l, (counts.get(l) ?? 0) + 1)
  const candidates = refLabels.length
  const kk = Math.min(k, candidates)
  let rMax = 0
  for (const l of queryLabels) rMax = Math.max(rMax, counts.get(l) ?? 0)
  return { counts, k: kk, window: Math.min(Math.max(rMax, kk), candidates) }
}

/** Running sums of the per-query metrics, summed in query order. */
export class RetrievalSums {
  readonly #m = [0, 0, 0, 0, 0, 0]
  #queries = 0

  /** Adds query `i`'s metrics from its `window` neighbours at `at` of `indices` (skipped when it has no relevant reference). */
  add(label: number, refLabels: Int32Array, w: Windows, indices: Int32Array, at: number): void {
    const r = w.counts.get(label) ?? 0
    if (r === 0 || w.window === 0) return
    const rel = (t: number): boolean => {
      const j = indices[at + t]
      return j >= 0 && refLabels[j] === label
    }
    let hits = 0, ap = 0
    for (let t = 0; t < r; t++) {
      if (rel(t)) {
        hits += 1
        ap += hits / (t + 1)
      }
    }
    let hitsK = 0
    for (let t = 0; t < w.k; t++) if (rel(t)) hitsK += 1
    let first = -1
    for (let t = 0; t < w.window && first < 0; t++) if (rel(t)) first = t
    const v = [rel(0) ? 1 : 0, hits / r, ap / r, first < 0 ? 0 : 1 / (first + 1), hitsK > 0 ? 1 : 0, w.k > 0 ? hitsK / w.k : 0]
    for (let m = 0; m < 6; m++) this.#m[m] += v[m]
    this.#queries += 1
  }

  /** The means over the queries kept (every metric 0 when none was). */
  mean(): RetrievalMetrics {
    const q = Math.max(1, this.#queries)
    const [p1, rp, map, mrr, rk, pk] = this.#m
    return { precisionAt1: p1 / q, rPrecision: rp / q, mapAtR: map / q, mrr: mrr / q, recallAtK: rk / q, precisionAtK: pk / q, queries: this.#queries }
  }
}
