/**
 * NumPy's `.npy` format (versions 1 to 3): little-endian float32, float64, int32 and int64
 * arrays in C order, read and written, so that embeddings and labels move between tripletkit
 * and Python without a conversion step.
 */

/** The element types read and written. */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64'

/** An array of a `.npy` file: its element type, shape (C order) and values. */
export interface NpyArray {
  /** The element type. */
  dtype: NpyDtype
  /** The dimensions, outermost first (`[rows, cols]` for a matrix). */
  shape: number[]
  /** The values in C (row-major) order, as a typed array of `dtype`. */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY
const DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '<f8': 'float64', '<i4': 'int32', '<i8': 'int64' }
const BYTES: Record<NpyDtype, number> = { float32: 4, float64: 8, int32: 4, int64: 8 }

/** A `.npy` header: the element type, the shape and where the data start. */
export interface NpyHeader {
  dtype: NpyDtype
  shape: number[]
  /** The byte offset of the first value. */
  dataOffset: number
}

/** The bytes one value of `dtype` takes. */
export function npyItemBytes(dtype: NpyDtype): number {
  return BYTES[dtype]
}

/**
 * Internal: parses the header at the start of `bytes` (the whole file, or at least its header).
 * `more` is how many bytes of header may still be missing before it is a truncated file: the
 * caller reads that many more and tries again.
 */
export function parseNpyHeader(bytes: Uint8Array, name: string): NpyHeader | { more: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new TypeError(`${name}: expected a .npy file (starting with \\x93NUMPY), received ${bytes.length} bytes that are not one`)
  }
  const major = bytes[6]
  if (major < 1 || major > 3) throw new RangeError(`${name}: expected .npy format version 1, 2 or 3, received ${major}.${bytes[7]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lengthBytes = major === 1 ? 2 : 4
  if (bytes.length < 8 + lengthBytes) return { more: 8 + lengthBytes - bytes.length }
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const start = 8 + lengthBytes + headerLength
  if (bytes.length < start) return { more: start - bytes.length }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, start))
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new TypeError(`${name}: expected a .npy header with descr, fortran_order and shape, received ${JSON.stringify(header.trim())}`)
  }
  const dtype = DESCR[descr.replace(/^=/, '<')]
  if (dtype === undefined) {
    throw new TypeError(`${name}: expected little-endian float32, float64, int32 or int64 ('<f4', '<f8', '<i4', '<i8'), received '${descr}'` +
      (descr.startsWith('>') ? ' (big-endian: save with arr.astype(arr.dtype.newbyteorder("<")))' : ''))
  }
  if (fortran === 'True') {
    throw new RangeError(`${name}: expected C order, received a Fortran-order array (save np.ascontiguousarray(arr) instead)`)
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number)
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new RangeError(`${name}: expected a shape of non-negative integers, received (${shapeText})`)
  return { dtype, shape, dataOffset: start }
}

/**
 * Parses the bytes of a `.npy` file. A file that is not `.npy`, is truncated, is in Fortran
 * order, or holds another element type (big-endian, float16, objects, …) is a TypeError or
 * RangeError that says what was found.
 *
 * @example
 * const x = readNpy(readFileSync('embeddings.npy'))   // { dtype: 'float32', shape: [1000, 128], data }
 */
export function readNpy(bytes: Uint8Array, name = 'file'): NpyArray {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${name}: expected the bytes of a .npy file (a Uint8Array or Buffer)`)
  const header = parseNpyHeader(bytes, name)
  if ('more' in header) throw new RangeError(`${name}: expected a .npy header, received a truncated file`)
  const { dtype, shape, dataOffset: start } = header
  const count = shape.reduce((a, b) => a * b, 1)
  const size = count * BYTES[dtype]
  if (bytes.length - start < size) {
    throw new RangeError(`${name}: expected ${size} bytes of data for shape (${shape.join(', ')}) ${dtype}, received ${bytes.length - start} (a truncated file)`)
  }
  // Copied into an aligned buffer of its own: the data may start at any offset of `bytes`
  // (Uint8Array's slice copies; a Node Buffer's own slice would share the pool).
  const own = Uint8Array.prototype.slice.call(bytes, start, start + size).buffer
  const data = dtype === 'float32' ? new Float32Array(own)
    : dtype === 'float64' ? new Float64Array(own)
      : dtype === 'int32' ? new Int32Array(own) : new BigInt64Array(own)
  return { dtype, shape, data }
}

/**
 * The bytes of a `.npy` file (version 1.0, C order, little-endian) holding `array`, whose
 * element type follows from its data: Float32Array, Float64Array, Int32Array or BigInt64Array.
 * `shape` defaults to one dimension.
 *
 * @example
 * writeFileSync('indices.npy', writeNpy({ data: result.indices, shape: [result.rows, result.k] }))
 */
export function writeNpy(array: { data: NpyArray['data']; shape?: readonly number[] }): Uint8Array {
  const { data } = array
  const dtype: NpyDtype | undefined = data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64'
    : data instanceof Int32Array ? 'int32' : data instanceof BigInt64Array ? 'int64' : undefined
  if (dtype === undefined) throw new TypeError('array.data: expected a Float32Array, Float64Array, Int32Array or BigInt64Array')
  const shape = array.shape ?? [data.length]
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0) || shape.reduce((a, b) => a * b, 1) !== data.length) {
    throw new RangeError(`array.shape: expected non-negative integers whose product is ${data.length}, received [${shape.join(', ')}]`)
  }
  const descr = Object.keys(DESCR).find((k) => DESCR[k] === dtype)!
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ')
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`
  // Magic, version and length take 10 bytes; the header is padded so the data start at a multiple of 64.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'
  const out = new Uint8Array(10 + header.length + data.byteLength)
  out.set(MAGIC)
  out[6] = 1
  out[7] = 0
  new DataView(out.buffer).setUint16(8, header.length, true)
  out.set(new TextEncoder().encode(header), 10)
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length)
  return out
}
