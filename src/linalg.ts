/** Small dense helpers for the adapters: products of row-major float32 matrices, a seeded generator. */

import { pairwiseDistancesSync } from './pairwise'
import type { Device, Matrix } from './types'

/** mᵀ, as a new matrix. */
export function transpose(m: Matrix): Matrix {
  const out = new Float32Array(m.rows * m.cols)
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j]
  return { data: out, rows: m.cols, cols: m.rows }
}

/**
 * −m. A device computes a product A·Bᵀ as one GEMM through
 * `pairwiseDistances(a, b, { metric: 'dot' })`, which is −A·Bᵀ: this turns it back.
 */
export function negated(m: Matrix): Matrix {
  const out = new Float32Array(m.data.length)
  for (let i = 0; i < out.length; i++) out[i] = -m.data[i]
  return { data: out, rows: m.rows, cols: m.cols }
}

/** A k × n matrix with ones on its diagonal. */
export function identity(k: number, n: number): Float32Array {
  const w = new Float32Array(k * n)
  for (let i = 0; i < Math.min(k, n); i++) w[i * n + i] = 1
  return w
}

/** A seeded stream of uniforms in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The rows of `x` listed in `rows`, as a new matrix. */
export function gatherRows(x: Matrix, rows: readonly number[]): Matrix {
  const out = new Float32Array(rows.length * x.cols)
  rows.forEach((r, i) => out.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols))
  return { data: out, rows: rows.length, cols: x.cols }
}

/** Row indices by label, in row order. */
export function groupByLabel(labels: Int32Array): Map<number, number[]> {
  const byClass = new Map<number, number[]>()
  labels.forEach((l, i) => {
    const rows = byClass.get(l)
    if (rows === undefined) byClass.set(l, [i])
    else rows.push(i)
  })
  return byClass
}

/** Triplets can be sampled: a class with two rows or more, and a second class. */
export function checkSampleable(labels: Int32Array): void {
  const sizes = [...groupByLabel(labels).values()].map((rows) => rows.length)
  if (sizes.length < 2 || !sizes.some((n) => n >= 2)) {
    throw new RangeError(`labels: expected a class with at least 2 rows and at least 2 classes, received ${sizes.length} ` +
      `class${sizes.length === 1 ? '' : 'es'} of at most ${Math.max(0, ...sizes)} rows`)
  }
}

/** x·W (`w` k × n, row-major) on `device`, as one GEMM. */
export function productOn(x: Matrix, w: Float32Array, n: number, device: Device | undefined): Matrix {
  if (x.rows === 0) return { data: new Float32Array(0), rows: 0, cols: n }
  return negated(pairwiseDistancesSync(x, transpose({ data: w, rows: x.cols, cols: n }), { metric: 'dot', device }))
}
