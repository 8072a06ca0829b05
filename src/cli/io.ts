/** Files for the command line: `.npy` in, `.npy` out, with errors that name the file. */
import { readFileSync, writeFileSync } from 'node:fs'
import { readNpy, writeNpy, type NpyArray } from '../npy'
import type { Matrix } from '../types'

/** A failure the CLI reports as `tripletkit: message` with exit code 1 (no stack trace). */
export class CliError extends Error {
  override name = 'CliError'
}

function load(path: string): NpyArray {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (err) {
    throw new CliError(`${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  try {
    return readNpy(bytes, path)
  } catch (err) {
    throw new CliError((err as Error).message)
  }
}

/** A 2-D float array of a `.npy` file as a float32 Matrix (float64 is rounded, ints converted). */
export function readMatrix(path: string): Matrix {
  const a = load(path)
  if (a.shape.length !== 2) throw new CliError(`${path}: expected a 2-D array (rows × dimensions), received shape (${a.shape.join(', ')})`)
  const [rows, cols] = a.shape
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number | bigint>, Number)
  return { data, rows, cols }
}

/** A 1-D integer array of a `.npy` file as labels (int64 must fit in int32). */
export function readLabels(path: string): Int32Array {
  const a = load(path)
  if (a.shape.length !== 1) throw new CliError(`${path}: expected a 1-D array of labels, received shape (${a.shape.join(', ')})`)
  if (a.data instanceof Int32Array) return a.data
  if (a.data instanceof BigInt64Array) {
    const out = new Int32Array(a.data.length)
    for (let i = 0; i < out.length; i++) {
      const v = a.data[i]
      if (v < -2147483648n || v > 2147483647n) throw new CliError(`${path}: label ${i} is ${v}, outside the int32 range`)
      out[i] = Number(v)
    }
    return out
  }
  throw new CliError(`${path}: expected integer labels (int32 or int64), received ${a.dtype}`)
}

/** Writes `data` as a `.npy` file of the given shape. */
export function writeArray(path: string, data: Int32Array | Float32Array, shape: number[]): void {
  try {
    writeFileSync(path, writeNpy({ data, shape }))
  } catch (err) {
    throw new CliError(`${path}: cannot write it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
}
