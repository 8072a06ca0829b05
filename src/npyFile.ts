/**
 * A `.npy` file read in row ranges by positioned reads, so that neither the file (Node reads
 * at most 2 GiB at once) nor the array (a typed array stops at 4 GiB) has a size limit: only
 * the rows asked for are in memory.
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { npyItemBytes, parseNpyHeader, type NpyArray, type NpyDtype } from './npy'

/** An open `.npy` file: its header, and its rows read on demand. */
export interface NpyFile {
  /** The element type. */
  readonly dtype: NpyDtype
  /** The dimensions, outermost first; rows are along the first. */
  readonly shape: readonly number[]
  /**
   * The values of rows [start, end) (whole sub-arrays along the first dimension), in C order.
   * With `into` (a typed array of the file's dtype, long enough), they are read into its start
   * and a view of that part is returned: a loop over blocks then allocates nothing.
   */
  readRows(start: number, end: number, into?: NpyArray['data']): NpyArray['data']
  /** Closes the file; later reads throw. */
  close(): void
}

const ARRAYS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const

/** The most bytes one read call asks for (Node refuses more than 2 GiB − 1 at once). */
const READ_CHUNK = 2 ** 30

/** Reads `length` bytes at `position` into `into`, to the end, or throws naming the file. */
function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  let done = 0
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(READ_CHUNK, into.length - done), position + done)
    if (n === 0) throw new RangeError(`${path}: expected ${into.length} bytes at byte ${position}, received ${done} (a truncated file)`)
    done += n
  }
}

/**
 * Opens a `.npy` file (versions 1 to 3, C order; float32, float64, int32 or int64) for reading
 * rows by positioned reads: no limit on the file's size. The header is checked now, and the
 * file's length against it (a truncated file is a RangeError naming it).
 *
 * @example
 * const corpus = openNpy('corpus.npy')        // { dtype: 'float32', shape: [20_000_000, 128] }
 * const block = corpus.readRows(0, 100_000)   // a Float32Array of 100,000 × 128 values
 * corpus.close()
 */
export function openNpy(path: string): NpyFile {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path: expected a file path, received ${typeof path}`)
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    let head = new Uint8Array(Math.min(size, 4096))
    readFully(fd, head, 0, path)
    let header = parseNpyHeader(head, path)
    if ('more' in header && head.length + header.more <= size) {
      head = new Uint8Array(head.length + header.more)
      readFully(fd, head, 0, path)
      header = parseNpyHeader(head, path)
    }
    if ('more' in header) throw new RangeError(`${path}: expected a .npy header, received a truncated file`)
    const { dtype, shape, dataOffset } = header
    const item = npyItemBytes(dtype)
    const rowValues = shape.slice(1).reduce((a, b) => a * b, 1)
    const rows = shape.length === 0 ? 1 : shape[0]
    const bytes = rows * rowValues * item
    if (size - dataOffset < bytes) {
      throw new RangeError(`${path}: expected ${bytes} bytes of data for shape (${shape.join(', ')}) ${dtype}, received ${size - dataOffset} (a truncated file)`)
    }
    let open = true
    return {
      dtype,
      shape,
      readRows(start: number, end: number, into?: NpyArray['data']) {
        if (!open) throw new Error(`${path}: the file is closed`)
        if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > rows) {
          throw new RangeError(`rows: expected 0 ≤ start ≤ end ≤ ${rows}, received [${start}, ${end})`)
        }
        const values = (end - start) * rowValues
        if (into !== undefined && (into.constructor !== ARRAYS[dtype] || into.length < values)) {
          throw new TypeError(`into: expected a ${ARRAYS[dtype].name} of at least ${values} values, received ${into.constructor.name} of ${into.length}`)
        }
        const out = into === undefined ? new ARRAYS[dtype](values) : into.subarray(0, values)
        readFully(fd, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), dataOffset + start * rowValues * item, path)
        return out
      },
      close() {
        if (open) closeSync(fd)
        open = false
      },
    }
  } catch (err) {
    closeSync(fd)
    throw err
  }
}
