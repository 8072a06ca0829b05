/**
 * Building matrices and turning the `MatrixLike` arguments of the public functions into checked,
 * row-major Float32Array matrices for the backends.
 */

import { loadNative } from './native'
import type { Matrix } from './types'
import { describe, isNumberList } from './validate'
import { stableView } from './views'

/**
 * Makes a {@link Matrix} from an array of equal-length rows, copied once into a new
 * Float32Array. Shapes and types are checked here (TypeError / RangeError); NaN and ±Infinity
 * are rejected by the function the matrix is passed to, whose message names the argument.
 *
 * @example
 * const m = matrix([[1, 0], [0, 1]])   // 2 × 2
 */
export function matrix(rows: readonly (readonly number[])[]): Matrix
/**
 * Makes a `rows × cols` {@link Matrix} from row-major values: a Float32Array is wrapped without
 * copying (later writes to it show through), a `number[]` is copied. `data.length` must be
 * `rows × cols`. NaN and ±Infinity are rejected where the matrix is used, not here.
 *
 * @example
 * const m = matrix(new Float32Array(6), 3, 2)   // 3 × 2, shares the buffer
 */
export function matrix(data: Float32Array | readonly number[], rows: number, cols: number): Matrix
export function matrix(data: Float32Array | readonly number[] | readonly (readonly number[])[], rows?: number, cols?: number): Matrix {
  if (rows === undefined && cols === undefined) {
    if (!Array.isArray(data)) {
      throw new TypeError(`matrix: expected an array of rows, or (data, rows, cols), received ${describe(data)}` +
        (data instanceof Float32Array ? ' without rows and cols' : ''))
    }
    return copyRows(data as readonly (readonly number[])[], 'rows', false)
  }
  const r = checkSize(rows, 'rows')
  const c = checkSize(cols, 'cols')
  if (r > 0 && c === 0) throw new RangeError(`cols: expected at least 1 column when rows > 0, received 0`)
  if (data instanceof Float32Array) {
    checkLength(data.length, r, c, 'data')
    return { data, rows: r, cols: c }
  }
  if (!Array.isArray(data)) {
    throw new TypeError(`data: expected a Float32Array or an array of numbers, received ${describe(data)}`)
  }
  checkLength(data.length, r, c, 'data')
  const out = new Float32Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i]
    if (typeof v !== 'number') throw new TypeError(`data[${i}]: expected a number, received ${describe(v)}`)
    out[i] = v
  }
  return { data: out, rows: r, cols: c }
}

/**
 * Internal: checks a `MatrixLike` argument and returns it as a {@link Matrix}. A Matrix is used
 * without copying; an array of rows is copied once. Rows may also be numeric typed arrays.
 * Throws TypeError for wrong types, RangeError for bad shapes and for NaN/±Infinity (naming
 * `argName`, the row and the column).
 */
export function toMatrix(value: unknown, argName: string): Matrix {
  if (Array.isArray(value)) return copyRows(value, argName, true)
  if (typeof value !== 'object' || value === null || !('data' in value)) {
    throw new TypeError(`${argName}: expected a Matrix ({ data: Float32Array, rows, cols }) or an array of rows, ` +
      `received ${describe(value)}`)
  }
  const m = value as { data: unknown; rows: unknown; cols: unknown }
  // Read each field once: a getter must not change between the checks and the call.
  const given = m.data
  if (!(given instanceof Float32Array)) {
    throw new TypeError(`${argName}.data: expected a Float32Array, received ${describe(given)} ` +
      `(matrix(data, rows, cols) copies a number[])`)
  }
  const data = stableView(given, Float32Array, `${argName}.data`)
  const rows = checkSize(m.rows, `${argName}.rows`)
  const cols = checkSize(m.cols, `${argName}.cols`)
  if (rows > 0 && cols === 0) throw new RangeError(`${argName}.cols: expected at least 1 column when rows > 0, received 0`)
  checkLength(data.length, rows, cols, `${argName}.data`)
  checkFiniteData(data, cols, argName)
  return { data, rows, cols }
}

/**
 * Values from which the finite check is the addon's: a call costs about 120 ns, what the loop
 * below takes for 200 values (256 values: 163 ns here, 120 ns in the addon; 8,192: 4.8 µs and
 * 0.27 µs).
 */
const NATIVE_SCAN_FROM = 256

/** Throws a RangeError naming the first non-finite value of `data`, if any, by its row counted from `firstRow`. */
export function checkFiniteData(data: Float32Array, cols: number, argName: string, firstRow = 0): void {
  // A large input is scanned by the addon where it loaded (vector units: about a tenth of the
  // time of the loop below); the loop below then runs only to find the offender.
  if (data.length >= NATIVE_SCAN_FROM) {
    const native = loadNative()
    if (native.ok && native.binding.allFinite(data)) return
  }
  // v · 0 is ±0 for every finite v and NaN for NaN and ±Infinity, and NaN survives a sum: four
  // branch-free running sums (about 3× faster than a compare per element) find out whether
  // there is any offender, and only then a second loop finds the first.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0
  const n = data.length - (data.length % 4)
  for (let i = 0; i < n; i += 4) {
    s0 += data[i] * 0
    s1 += data[i + 1] * 0
    s2 += data[i + 2] * 0
    s3 += data[i + 3] * 0
  }
  for (let i = n; i < data.length; i++) s0 += data[i] * 0
  if (s0 + s1 + s2 + s3 === 0) return
  for (let i = 0; i < data.length; i++) {
    const v = data[i]
    if (v - v !== 0) throw notFinite(argName, firstRow + Math.floor(i / cols), i % cols, v, v)
  }
}

function notFinite(argName: string, row: number, col: number, received: number, stored: number): RangeError {
  const what = Number.isFinite(received) ? `${received}, which overflows float32 to ${stored},` : String(received)
  return new RangeError(`${argName}: expected finite numbers, received ${what} at row ${row}, column ${col}`)
}

function copyRows(rowsArr: readonly unknown[], name: string, finite: boolean): Matrix {
  const n = rowsArr.length
  if (n === 0) return { data: new Float32Array(0), rows: 0, cols: 0 }
  const first = rowsArr[0]
  if (!isNumberList(first)) throw new TypeError(`${name}[0]: expected an array of numbers, received ${describe(first)}`)
  const cols = first.length
  if (cols === 0) throw new RangeError(`${name}[0]: expected a row of at least 1 number, received an empty row`)
  const data = new Float32Array(n * cols)
  for (let r = 0; r < n; r++) {
    const row = rowsArr[r]
    if (!isNumberList(row)) throw new TypeError(`${name}[${r}]: expected an array of numbers, received ${describe(row)}`)
    if (row.length !== cols) {
      throw new RangeError(`${name}[${r}]: expected ${cols} numbers (the length of ${name}[0]), received ${row.length}`)
    }
    const base = r * cols
    for (let c = 0; c < cols; c++) {
      const v = row[c]
      if (typeof v !== 'number') throw new TypeError(`${name}[${r}][${c}]: expected a number, received ${describe(v)}`)
      const f = (data[base + c] = v)
      // Checked after rounding to float32: 1e39 is finite in JS but Infinity in the matrix.
      if (finite && data[base + c] - data[base + c] !== 0) throw notFinite(name, r, c, f, data[base + c])
    }
  }
  return { data, rows: n, cols }
}

function checkSize(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name}: expected a non-negative integer, received ${describe(value)}`)
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name}: expected a non-negative integer, received ${value}`)
  return value
}

function checkLength(length: number, rows: number, cols: number, name: string): void {
  if (length !== rows * cols) {
    throw new RangeError(`${name}: expected length rows × cols = ${rows} × ${cols} = ${rows * cols}, received length ${length}`)
  }
}

/**
 * Internal: checks that matrices which must share the embedding dimension do. Matrices with no
 * rows are skipped: `[]` carries no column count.
 */
export function checkSameCols(first: Matrix, firstName: string, other: Matrix, otherName: string): void {
  if (first.rows > 0 && other.rows > 0 && first.cols !== other.cols) {
    throw new RangeError(`${otherName}: expected ${first.cols} columns (the columns of ${firstName}), received ${other.cols}`)
  }
}

/** Internal: the column count of a group of matrices that passed {@link checkSameCols}. */
export function sharedCols(...ms: Matrix[]): number {
  for (const m of ms) if (m.rows > 0) return m.cols
  return ms.length > 0 ? ms[0].cols : 0
}
