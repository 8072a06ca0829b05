/**
 * The full distance matrix between two sets of rows (API.md `pairwiseDistances`).
 *
 * Result[i, j] = dist(a_i, b_j), row-major aRows × bRows, each entry computed in float64 by
 * `distance` and rounded to float32. With b = null, a is compared with itself (aRows × aRows)
 * and, per docs/SEMANTICS.md, the diagonal is exactly 0 for euclidean / sqeuclidean / cosine
 * (cosine: 1 when the row is zero) and −‖a_i‖² for dot.
 */
import type { MetricOptions } from '../backend'
import { distance, normalizeRows, parseMetric } from './distance'

export function pairwiseDistances(
  a: Float32Array, aRows: number, b: Float32Array | null | undefined, bRows: number, cols: number, opts?: MetricOptions | null,
): Float32Array {
  const metric = parseMetric(opts?.metric)
  const normalize = opts?.normalize ?? false
  const x = normalize ? normalizeRows(a, aRows, cols) : a
  const self = b == null
  const y = self ? x : normalize ? normalizeRows(b, bRows, cols) : b
  const yRows = self ? aRows : bRows
  const out = new Float32Array(aRows * yRows)
  for (let i = 0; i < aRows; i++) {
    for (let j = 0; j < yRows; j++) {
      out[i * yRows + j] = self && i === j
        ? selfDistance(x, i * cols, cols, metric)
        : distance(x, i * cols, y, j * cols, cols, metric)
    }
  }
  return out
}

/** d(x, x), pinned down exactly rather than left to rounding. */
function selfDistance(x: Float32Array, off: number, cols: number, metric: string): number {
  switch (metric) {
    case 'euclidean':
    case 'sqeuclidean':
      return 0
    case 'cosine': {
      for (let j = 0; j < cols; j++) if (x[off + j] !== 0) return 0
      return 1 // a zero vector has cosine distance 1 to everything, itself included
    }
    default:
      return distance(x, off, x, off, cols, metric) // dot: −‖x‖²
  }
}
