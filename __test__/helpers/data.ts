/** Random test data: float32-exact rows, label schemes and the awkward cases. */
import { Rng } from './prng'

export type Rows = number[][]

/** rows × cols standard-normal values, each rounded to float32 so every device sees the same numbers. */
export function gaussianRows(rng: Rng, rows: number, cols: number, scale = 1): Rows {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.fround(scale * rng.gauss())))
}

/** rows × cols small integers in [-range, range]: every distance is exact in float32. */
export function integerRows(rng: Rng, rows: number, cols: number, range = 3): Rows {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.int(2 * range + 1) - range))
}

/** Copies some rows over others (exact duplicates), in place; returns the rows. */
export function duplicateSome(rng: Rng, rows: Rows, count = Math.max(1, rows.length >> 2)): Rows {
  if (rows.length < 2) return rows
  for (let c = 0; c < count; c++) {
    const from = rng.int(rows.length)
    const to = rng.int(rows.length)
    rows[to] = rows[from].slice()
  }
  return rows
}

export type LabelScheme = 'few' | 'singletons' | 'allEqual' | 'allDistinct' | 'wide'
export const LABEL_SCHEMES: LabelScheme[] = ['few', 'singletons', 'allEqual', 'allDistinct', 'wide']

/**
 * - few: about rows/4 classes (at least 2), random membership
 * - singletons: half the rows in classes of one member, the rest in two classes
 * - allEqual: one class
 * - allDistinct: every label distinct (no positive pairs at all)
 * - wide: class ids far apart and negative (-2^31 … 2^31 − 1)
 */
export function makeLabels(rng: Rng, rows: number, scheme: LabelScheme): number[] {
  switch (scheme) {
    case 'few': {
      const classes = Math.max(2, Math.ceil(rows / 4))
      return Array.from({ length: rows }, () => rng.int(classes))
    }
    case 'singletons':
      return Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? 1000 + i : i % 4 === 1 ? 1 : 2))
    case 'allEqual':
      return new Array(rows).fill(7)
    case 'allDistinct':
      return Array.from({ length: rows }, (_, i) => rows - i)
    case 'wide': {
      const ids = [-2147483648, -5, 0, 2147483647]
      return Array.from({ length: rows }, () => ids[rng.int(ids.length)])
    }
  }
}

export function transpose(rows: Rows): Rows {
  if (rows.length === 0) return []
  return rows[0].map((_, j) => rows.map((r) => r[j]))
}

/** Flattens rows into a Float32Array (row-major). */
export function flat(rows: Rows): Float32Array {
  const cols = rows.length ? rows[0].length : 0
  const out = new Float32Array(rows.length * cols)
  rows.forEach((r, i) => out.set(r, i * cols))
  return out
}

/** Splits a row-major array into rows of `cols`. */
export function unflat(data: ArrayLike<number>, rows: number, cols: number): Rows {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => data[i * cols + j]))
}
