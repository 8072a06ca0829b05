/**
 * Argument checks shared by the public functions. Every check throws a TypeError (wrong type)
 * or a RangeError (bad value or size) whose message names the argument and says what was
 * expected and what was received, so that a caller can fix the call from the message alone.
 */

import { codedError, ERROR_CODES } from './errors'
import { memoryHeadroom } from './memory'
import { stableView } from './views'
import type { Device, LossReduction, MarginLossReduction, Metric, Strategy } from './types'

/** The metrics of API.md, in the order messages list them. */
export const METRICS: readonly Metric[] = ['euclidean', 'sqeuclidean', 'cosine', 'dot']
/** The devices of API.md. */
export const DEVICES: readonly Device[] = ['auto', 'cuda', 'cpu', 'js']
/** The mining strategies of API.md. */
export const STRATEGIES: readonly Strategy[] = ['all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard']
/** Reductions of tripletLoss. */
export const LOSS_REDUCTIONS: readonly LossReduction[] = ['mean', 'sum', 'mean-active']
/** Reductions of tripletMarginLoss. */
export const MARGIN_LOSS_REDUCTIONS: readonly MarginLossReduction[] = ['mean', 'sum', 'none']

const INT32_MIN = -2147483648
/** The largest int32: labels, indices and triplet counts stay within it. */
export const INT32_MAX = 2147483647

/** An array or a numeric typed array (not a DataView, not a BigInt array): a row or a label list. */
export function isNumberList(x: unknown): x is ArrayLike<unknown> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView) &&
    !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array))
}

/** A short description of a value for "received …" in messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'string') {
    const s = value.length > 40 ? value.slice(0, 37) + '...' : value
    return `the string ${JSON.stringify(s)}`
  }
  if (typeof value === 'number') return `the number ${String(value)}`
  if (typeof value === 'bigint') return `the bigint ${String(value)}n`
  if (typeof value === 'boolean') return String(value)
  if (typeof value === 'symbol') return 'a symbol'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of length ${value.length}`
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'typed array'
    return 'length' in value ? `a ${name} of length ${(value as unknown as ArrayLike<unknown>).length}` : `a ${name}`
  }
  const ctor = (value as object).constructor
  return ctor && ctor !== Object && typeof ctor.name === 'string' && ctor.name ? `a ${ctor.name}` : 'an object'
}

/** A string from a fixed list: TypeError when not a string, RangeError when not in the list. */
export function checkEnum<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback
  const expected = `one of ${allowed.map((a) => `'${a}'`).join(', ')}`
  if (typeof value !== 'string') throw new TypeError(`${name}: expected ${expected}, received ${describe(value)}`)
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`${name}: expected ${expected}, received '${value}'`)
  }
  return value as T
}

/** `metric`, default 'euclidean'. */
export function checkMetric(value: unknown, name = 'opts.metric'): Metric {
  return checkEnum(value, name, METRICS, 'euclidean')
}

/** `device`, default 'auto'. Only the spelling is checked here; availability is device.ts's job. */
export function checkDevice(value: unknown, name = 'opts.device'): Device {
  return checkEnum(value, name, DEVICES, 'auto')
}

/** A mining strategy; required when `fallback` is not given. */
export function checkStrategy(value: unknown, name: string, fallback?: Strategy): Strategy {
  return checkEnum(value, name, STRATEGIES, fallback)
}

/** A boolean option (no truthy coercion: `'false'` would silently mean true). */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new TypeError(`${name}: expected a boolean, received ${describe(value)}`)
  return value
}

/** A finite number (NaN and ±Infinity are RangeErrors). */
export function checkFinite(value: unknown, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`${name}: expected a finite number, received ${describe(value)}`)
  if (!Number.isFinite(value)) throw new RangeError(`${name}: expected a finite number, received ${value}`)
  return value
}

/**
 * An integer in [min, max]. `what` replaces the default description of the range in messages
 * (e.g. "an integer from 1 to 63 (corpus rows − 1, because excludeSelf)").
 */
export function checkInteger(value: unknown, name: string, min: number, max: number = Number.MAX_SAFE_INTEGER, what?: string): number {
  const expected = what ?? (max >= Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`)
  if (typeof value !== 'number') throw new TypeError(`${name}: expected ${expected}, received ${describe(value)}`)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: expected ${expected}, received ${value}`)
  }
  return value
}

/** A positive integer, with a default when `undefined`. */
export function checkPositiveInteger(value: unknown, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  return checkInteger(value, name, 1)
}

/** An optional callback. */
export function checkCallback<F extends (...args: never[]) => unknown>(value: unknown, name: string): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw new TypeError(`${name}: expected a function, received ${describe(value)}`)
  return value as F
}

/**
 * An optional AbortSignal. Checked by shape rather than `instanceof`, so that signals from
 * another realm or a polyfill work too.
 */
export function checkSignal(value: unknown, name = 'opts.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined
  const s = value as AbortSignal
  if (typeof value !== 'object' || value === null || typeof s.aborted !== 'boolean' ||
      typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    throw new TypeError(`${name}: expected an AbortSignal, received ${describe(value)}`)
  }
  return s
}

/**
 * Labels → Int32Array with one label per row. An Int32Array is used as is; arrays (and other
 * numeric typed arrays) must hold integers in the int32 range and are copied.
 * `rowsOf` names the matrix the labels belong to, for the message.
 */
export function toLabels(value: unknown, name: string, rows: number, rowsOf: string): Int32Array {
  let out: Int32Array
  if (value instanceof Int32Array) {
    out = stableView(value, Int32Array, name)
  } else if (isNumberList(value)) {
    const src = value
    out = new Int32Array(src.length)
    for (let i = 0; i < src.length; i++) {
      const v = src[i]
      if (typeof v !== 'number') throw new TypeError(`${name}[${i}]: expected an integer label, received ${describe(v)}`)
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
        throw new RangeError(`${name}[${i}]: expected an integer label in the int32 range, received ${v}`)
      }
      out[i] = v
    }
  } else {
    throw new TypeError(`${name}: expected an Int32Array or an array of integers, received ${describe(value)}`)
  }
  if (out.length !== rows) {
    throw new RangeError(`${name}: expected ${rows} labels (one per row of ${rowsOf}), received ${out.length}`)
  }
  return out
}

/**
 * Index array → Int32Array of int32 integers, Int32Arrays used as is; what range they must lie
 * in is the reader's rule.
 */
export function toIndexArray(value: unknown, name: string): Int32Array {
  if (value instanceof Int32Array) return stableView(value, Int32Array, name)
  if (!Array.isArray(value)) {
    throw new TypeError(`${name}: expected an Int32Array or an array of integers, received ${describe(value)}`)
  }
  const out = new Int32Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}]: expected an integer index, received ${describe(v)}`)
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new RangeError(`${name}[${i}]: expected an integer index, received ${v}`)
    out[i] = v
  }
  return out
}

/**
 * Index array → Int32Array with every value in [0, bound). Int32Arrays are used as is.
 * `boundWhat` says what the bound is, for the message ("rows of embeddings").
 */
export function toIndices(value: unknown, name: string, bound: number, boundWhat: string): Int32Array {
  const expected = bound > 0 ? `an index from 0 to ${bound - 1} (${boundWhat})` : `no index at all (${boundWhat}: 0)`
  if (value instanceof Int32Array) {
    const view = stableView(value, Int32Array, name)
    for (let i = 0; i < view.length; i++) {
      const v = view[i]
      if (v < 0 || v >= bound) throw new RangeError(`${name}[${i}]: expected ${expected}, received ${v}`)
    }
    return view
  }
  if (!Array.isArray(value)) {
    throw new TypeError(`${name}: expected an Int32Array or an array of integers, received ${describe(value)}`)
  }
  const out = new Int32Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}]: expected an integer index, received ${describe(v)}`)
    if (!Number.isInteger(v) || v < 0 || v >= bound) throw new RangeError(`${name}[${i}]: expected ${expected}, received ${v}`)
    out[i] = v
  }
  return out
}

/** The options every distance-based function shares, checked, with their defaults. */
export interface CommonOptions {
  metric: Metric
  normalize: boolean
  device: Device
  signal: AbortSignal | undefined
  maxMemory: number | undefined
}

/** Checks `metric`, `normalize`, `device`, `signal` and `maxMemory` of an options object. */
export function checkCommon(o: { metric?: unknown; normalize?: unknown; device?: unknown; signal?: unknown; maxMemory?: unknown }): CommonOptions {
  return {
    metric: checkMetric(o.metric),
    normalize: checkBoolean(o.normalize, 'opts.normalize', false),
    device: checkDevice(o.device),
    signal: checkSignal(o.signal),
    maxMemory: o.maxMemory === undefined ? undefined : checkInteger(o.maxMemory, 'opts.maxMemory', 1),
  }
}

/** Bytes under which a result is not checked against the memory headroom. */
export const SMALL_RESULT = 8 * 2 ** 20

/** Typed arrays stop at 2^31 − 1 elements on some Node versions. */
const MAX_CELLS = 2 ** 31 - 1

/**
 * Refuses a result that cannot fit (more cells than a typed array holds, or over half of what
 * this process can still allocate: see {@link memoryHeadroom}) with a RangeError coded
 * `ERR_TRIPLETKIT_OUT_OF_MEMORY`, before anything is allocated, rather than let its allocation
 * take the process down. Only results that grow faster than the inputs need this.
 */
export function checkResultSize(cells: number, bytesPerCell: number, what: string, hint: string): void {
  const bytes = cells * bytesPerCell
  if (cells > MAX_CELLS) {
    throw outOfMemory(`${what}: expected at most ${MAX_CELLS} cells, received ${cells} cells; ${hint}`)
  }
  // Reading the headroom costs a few file reads: results under 8 MiB always fit.
  if (bytes < SMALL_RESULT) return
  const headroom = memoryHeadroom()
  if (bytes > headroom / 2) {
    throw outOfMemory(`${what}: expected at most half of the ${gib(headroom)} GiB this process can still allocate, ` +
      `received work that needs ${gib(bytes)} GiB; ${hint}`)
  }
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(bytes < 2 ** 28 ? 3 : 1)
}

function outOfMemory(message: string): RangeError {
  return codedError(RangeError, ERROR_CODES.outOfMemory, message)
}
