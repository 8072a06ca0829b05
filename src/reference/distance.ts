/**
 * Distances between two embedding rows, their gradients, and L2 row normalisation with its
 * backward pass: the building blocks of the pure-TypeScript reference backend.
 *
 * Definitions (API.md "Data", docs/SEMANTICS.md "Distances"), every one a distance (smaller = closer):
 *   sqeuclidean = Σ (a − b)²,  euclidean = √sqeuclidean,
 *   cosine = 1 − a·b / (‖a‖ ‖b‖) clamped to [0, 2], and 1 when either vector is zero,
 *   dot = −a·b.
 * Everything is computed in float64 straight from the float32 inputs; callers round to float32
 * where a result leaves the backend.
 */

import { invalidArgument } from './common'

export type MetricName = 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'

/** Checks a metric string; unknown spellings are an error, never a silent default. */
export function parseMetric(metric: string = 'euclidean'): MetricName {
  switch (metric) {
    case 'euclidean':
    case 'sqeuclidean':
    case 'cosine':
    case 'dot':
      return metric
    default:
      throw invalidArgument(`metric: expected 'euclidean', 'sqeuclidean', 'cosine' or 'dot', received '${metric}'`)
  }
}

/**
 * Distance between row a[aOff .. aOff+cols) and row b[bOff .. bOff+cols), in float64.
 * `aOff` and `bOff` are element offsets (row index × cols).
 */
export function distance(a: Float32Array, aOff: number, b: Float32Array, bOff: number, cols: number, metric: string): number {
  switch (metric) {
    case 'sqeuclidean':
    case 'euclidean': {
      let s = 0
      for (let j = 0; j < cols; j++) {
        const t = a[aOff + j] - b[bOff + j]
        s += t * t
      }
      return metric === 'euclidean' ? Math.sqrt(s) : s
    }
    case 'cosine': {
      let dot = 0
      let na2 = 0
      let nb2 = 0
      for (let j = 0; j < cols; j++) {
        const x = a[aOff + j]
        const y = b[bOff + j]
        dot += x * y
        na2 += x * x
        nb2 += y * y
      }
      if (na2 === 0 || nb2 === 0) return 1
      // √(‖a‖²‖b‖²) rather than ‖a‖·‖b‖: for identical rows √(fl(s·s)) = s exactly in IEEE
      // arithmetic, so a row and its duplicate are at distance exactly 0.
      const d = 1 - dot / Math.sqrt(na2 * nb2)
      return d < 0 ? 0 : d > 2 ? 2 : d
    }
    case 'dot': {
      let s = 0
      for (let j = 0; j < cols; j++) s += a[aOff + j] * b[bOff + j]
      return -s
    }
    default:
      throw new Error(`unknown metric '${metric}'`)
  }
}

/** The L2 norm of the row at `off`, summed in float64. */
function rowNorm(x: Float32Array, off: number, cols: number): number {
  let n2 = 0
  for (let j = 0; j < cols; j++) n2 += x[off + j] * x[off + j]
  return Math.sqrt(n2)
}

/**
 * Each row divided by its L2 norm (norm computed in float64); a zero row stays zero.
 * Returns a new float32 matrix: the embeddings every metric then sees.
 */
export function normalizeRows(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    const off = i * cols
    const n = rowNorm(x, off, cols)
    if (n === 0) continue
    for (let j = 0; j < cols; j++) out[off + j] = x[off + j] / n
  }
  return out
}

/**
 * Adds coef · ∂d(a, b)/∂a into gradA[gaOff ..) and coef · ∂d(a, b)/∂b into gradB[gbOff ..)
 * (docs/SEMANTICS.md "Losses"):
 *   sqeuclidean  ∂/∂a = 2(a − b),             ∂/∂b = −2(a − b)
 *   euclidean    ∂/∂a = (a − b)/d,            ∂/∂b = −(a − b)/d      (0 when d = 0)
 *   cosine       ∂/∂a = −(b̂ − cos·â)/‖a‖,     ∂/∂b = −(â − cos·b̂)/‖b‖  (0 if a or b is zero)
 *   dot          ∂/∂a = −b,                   ∂/∂b = −a
 * gradA and gradB may be the same buffer (rows of one matrix); both partials are computed from
 * the inputs before anything is added, so a = b (the same row) is handled too.
 */
export function distanceGrad(
  a: Float32Array, aOff: number, b: Float32Array, bOff: number, cols: number, metric: string, coef: number,
  gradA: Float64Array, gaOff: number, gradB: Float64Array, gbOff: number,
): void {
  if (coef === 0) return
  switch (metric) {
    case 'sqeuclidean':
      for (let j = 0; j < cols; j++) {
        const t = 2 * coef * (a[aOff + j] - b[bOff + j])
        gradA[gaOff + j] += t
        gradB[gbOff + j] -= t
      }
      return
    case 'euclidean': {
      const d = distance(a, aOff, b, bOff, cols, 'euclidean')
      if (d === 0) return // the distance is not differentiable there; API.md takes its gradient as 0
      const s = coef / d
      for (let j = 0; j < cols; j++) {
        const t = s * (a[aOff + j] - b[bOff + j])
        gradA[gaOff + j] += t
        gradB[gbOff + j] -= t
      }
      return
    }
    case 'cosine': {
      let dot = 0
      let na2 = 0
      let nb2 = 0
      for (let j = 0; j < cols; j++) {
        dot += a[aOff + j] * b[bOff + j]
        na2 += a[aOff + j] * a[aOff + j]
        nb2 += b[bOff + j] * b[bOff + j]
      }
      if (na2 === 0 || nb2 === 0) return // distance is the constant 1 there
      const nab = Math.sqrt(na2 * nb2)
      const cos = dot / nab
      // ∂(1 − cos)/∂a_j = −(b_j/(‖a‖‖b‖) − cos·a_j/‖a‖²), and symmetrically for b.
      const da = new Float64Array(cols)
      const db = new Float64Array(cols)
      for (let j = 0; j < cols; j++) {
        const x = a[aOff + j]
        const y = b[bOff + j]
        da[j] = -(y / nab - (cos * x) / na2)
        db[j] = -(x / nab - (cos * y) / nb2)
      }
      for (let j = 0; j < cols; j++) {
        gradA[gaOff + j] += coef * da[j]
        gradB[gbOff + j] += coef * db[j]
      }
      return
    }
    case 'dot': {
      // Read both rows before writing: gradA/gradB are separate from a/b, but keep it obvious.
      for (let j = 0; j < cols; j++) {
        const x = a[aOff + j]
        const y = b[bOff + j]
        gradA[gaOff + j] -= coef * y
        gradB[gbOff + j] -= coef * x
      }
      return
    }
    default:
      throw new Error(`unknown metric '${metric}'`)
  }
}

/**
 * Backward pass through y = x / ‖x‖ row by row (docs/SEMANTICS.md "Distances"):
 *   dL/dx = (g − (g·y) y) / ‖x‖, and 0 for a zero row.
 * `g` is dL/dy; y is recomputed from x in float64. Returns a new float64 array.
 */
export function normalizeBackward(x: Float32Array, rows: number, cols: number, g: Float64Array): Float64Array {
  const out = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    const off = i * cols
    const n = rowNorm(x, off, cols)
    if (n === 0) continue
    let gy = 0
    for (let j = 0; j < cols; j++) gy += g[off + j] * (x[off + j] / n)
    for (let j = 0; j < cols; j++) out[off + j] = (g[off + j] - gy * (x[off + j] / n)) / n
  }
  return out
}
