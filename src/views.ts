/**
 * Typed-array inputs as the native side can read them and nothing can change: a plain view
 * of the real memory, read through the built-in getters (a subclass may lie about its
 * `length`), or a private copy when the memory can change or move under the call (a
 * SharedArrayBuffer, which other threads write; a resizable buffer, which can shrink).
 */

// The built-in accessors of every typed array, which a subclass cannot override.
const TypedArray = Object.getPrototypeOf(Int8Array.prototype) as object
function intrinsic<T>(name: string): (view: ArrayBufferView) => T {
  const get = Object.getOwnPropertyDescriptor(TypedArray, name)?.get
  if (get === undefined) throw new Error(`this JavaScript engine has no TypedArray.prototype.${name}`)
  return (view) => get.call(view) as T
}
const lengthOf = intrinsic<number>('length')
const bufferOf = intrinsic<ArrayBufferLike>('buffer')
const offsetOf = intrinsic<number>('byteOffset')

/** Constructors of the views we hand to the native side. */
type Ctor<T> = {
  new (length: number): T
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T
}

/**
 * `value` (already known to be an instance of `ctor`) as a plain `ctor` over memory no one else
 * can change during the call. A detached buffer (transferred to a worker, or by
 * `structuredClone`) is a RangeError naming `name`.
 */
export function stableView<T extends Float32Array | Int32Array>(value: T, ctor: Ctor<T>, name: string): T {
  let buffer: ArrayBufferLike, length: number, offset: number
  try {
    buffer = bufferOf(value)
    length = lengthOf(value)
    offset = offsetOf(value)
  } catch {
    // A Proxy passes `instanceof` but is no typed array to the built-in getters.
    throw new TypeError(`${name}: expected a ${ctor.name}, received an object that only looks like one (a Proxy?)`)
  }
  if (length === 0 && buffer instanceof ArrayBuffer && isDetached(buffer)) throw new RangeError(`${name}: expected a typed array with its memory, received one whose buffer was detached (transferred)`)
  const shared = typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer
  const resizable = (buffer as ArrayBuffer & { resizable?: boolean }).resizable === true ||
    (buffer as SharedArrayBuffer & { growable?: boolean }).growable === true
  if (!shared && !resizable) {
    // The caller's own array when nothing about it can mislead (callers compare identities).
    const plain = Object.getPrototypeOf(value) === ctor.prototype && !Object.prototype.hasOwnProperty.call(value, 'length')
    return plain ? value : new ctor(buffer, offset, length)
  }
  const view = new ctor(buffer, offset, length)
  const copy = new ctor(length)
  ;(copy as Float32Array).set(view as Float32Array)
  return copy
}

/** Whether an empty ArrayBuffer was detached: only a detached one refuses to be sliced. */
function isDetached(buffer: ArrayBuffer): boolean {
  const detached = (buffer as ArrayBuffer & { detached?: boolean }).detached
  if (typeof detached === 'boolean') return detached
  try {
    buffer.slice(0, 0)
    return false
  } catch {
    return true
  }
}
