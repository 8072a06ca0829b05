/** Files for the command line: `.npy` in, `.npy` out, with errors that name the file. */
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { writeNpy, type NpyArray } from '../npy'
import { openNpy, type NpyFile } from '../npyFile'
import { checkFiniteData } from '../matrix'
import type { Matrix } from '../types'

/** Throws a CliError naming the first value of `data` that is not finite, by its row in the file (the first is `firstRow`). */
export function checkFinite(data: Float32Array, cols: number, firstRow: number, path: string): void {
  try {
    checkFiniteData(data, cols, path, firstRow)
  } catch (err) {
    throw new CliError((err as Error).message)
  }
}

/** A failure the CLI reports as `tripletkit: message` with exit code 1 (no stack trace). */
export class CliError extends Error {
  override name = 'CliError'
}

/** Opens a `.npy` file for row reads, a failure being a CliError that names it. */
export function openFile(path: string): NpyFile {
  try {
    return openNpy(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(code === undefined ? (err as Error).message : `${path}: cannot read it (${code})`)
  }
}

function load(path: string): NpyArray {
  const file = openFile(path)
  try {
    const rows = file.shape.length === 0 ? 1 : file.shape[0]
    return { dtype: file.dtype, shape: [...file.shape], data: file.readRows(0, rows) }
  } catch (err) {
    throw new CliError((err as Error).message)
  } finally {
    file.close()
  }
}

/** Checks that an open file holds a 2-D array, and returns its rows and columns. */
export function matrixShape(file: NpyFile, path: string): [number, number] {
  if (file.shape.length !== 2) throw new CliError(`${path}: expected a 2-D array (rows × dimensions), received shape (${file.shape.join(', ')})`)
  return [file.shape[0], file.shape[1]]
}

/** A 2-D float array of a `.npy` file as a float32 Matrix (float64 is rounded, ints converted). */
export function readMatrix(path: string): Matrix {
  const a = load(path)
  if (a.shape.length !== 2) throw new CliError(`${path}: expected a 2-D array (rows × dimensions), received shape (${a.shape.join(', ')})`)
  const [rows, cols] = a.shape
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number | bigint>, Number)
  checkFinite(data, cols, 0, path)
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

/**
 * Writes files so that a failed run leaves none half written: each goes to a temporary name
 * beside it first, and only when every one is complete are they renamed into place.
 */
export function writeFiles(files: { path: string; bytes: Uint8Array }[]): void {
  const temps: string[] = []
  try {
    for (const f of files) {
      const temp = `${f.path}.${process.pid}.partial`
      temps.push(temp)
      writeFileSync(temp, f.bytes)
    }
    files.forEach((f, i) => renameSync(temps[i], f.path))
  } catch (err) {
    for (const t of temps) rmSync(t, { force: true })
    const failed = files[Math.max(0, temps.length - 1)].path
    throw new CliError(`${failed}: cannot write it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
}

/** Writes `data` as a `.npy` file of the given shape (through a temporary name). */
export function writeArray(path: string, data: Int32Array | Float32Array, shape: number[]): void {
  writeFiles([{ path, bytes: writeNpy({ data, shape }) }])
}
