/**
 * The GPU copies of a KnnIndex's pieces. On 'cuda', a piece is searched through a native
 * prepared index, which keeps the piece on the device after its first search when it takes
 * at most half of the device memory a search may use (the addon decides, and counts it in
 * every later call's budget). Such an index is kept with the piece, so that later searches
 * move only their queries and results; one that could not keep its piece there is released
 * once its search ends, and the next search streams the piece through the device again.
 *
 * A native index is released only when no search uses it: a search queued on the addon's
 * threads reaches its corpus when it starts, so releasing it earlier would fail that search.
 */

import type { NativeBinding } from './backend'
import { nativeDevice, type Target } from './device'

type NativeIndex = InstanceType<NativeBinding['KnnIndex']>

/**
 * Where a piece's device copy is kept: the native index holding it, and the options it was
 * prepared under (a search under other options makes its own). `stale` once the piece has
 * changed or the copy was let go, so that a search under way releases what it made.
 */
export interface DeviceCopy {
  index?: NativeIndex
  key?: string
  stale: boolean
}

/** Searches using each native index now, and whether it is to be released when they end. */
const USES = new WeakMap<NativeIndex, { searches: number; retired: boolean }>()

function uses(index: NativeIndex): { searches: number; retired: boolean } {
  let u = USES.get(index)
  if (u === undefined) USES.set(index, (u = { searches: 0, retired: false }))
  return u
}

/** Releases `index` now, or when the last search using it ends. */
function retire(index: NativeIndex): void {
  const u = uses(index)
  u.retired = true
  if (u.searches === 0) index.release()
}

/** A new, empty place for a piece's device copy. */
export function newCopy(): DeviceCopy {
  return { stale: false }
}

/** Lets a copy go: its device memory is freed once no search uses it. */
export function dropCopy(copy: DeviceCopy): void {
  copy.stale = true
  if (copy.index !== undefined) retire(copy.index)
  copy.index = undefined
}

/** What one search of a piece with a copy runs on: the native index, and how to settle it after. */
export interface Kept {
  readonly index: NativeIndex
  readonly settle: () => void
}

/**
 * The native index to search `data` (`rows × cols`) with, when the search runs on 'cuda' and
 * the piece has a place for its copy: the kept one, or a new one that `settle` keeps when it
 * kept the piece on the device. `settle` must be called once the search has ended.
 */
export function keptIndex(target: Target, options: object, copy: DeviceCopy | undefined,
  data: Float32Array, rows: number, cols: number): Kept | undefined {
  if (copy === undefined || target.native === undefined || nativeDevice(target) !== 'cuda') return undefined
  const key = JSON.stringify(options)
  const index = copy.index !== undefined && copy.key === key
    ? copy.index
    : new target.native.KnnIndex(data, rows, cols, options)
  uses(index).searches++
  return { index, settle: () => settle(copy, index, key) }
}

function settle(copy: DeviceCopy, index: NativeIndex, key: string): void {
  const u = uses(index)
  u.searches--
  if (copy.index !== index && !copy.stale && !u.retired && index.deviceBytes > 0) {
    // The newest copy wins; one it replaces is released when its searches end.
    if (copy.index !== undefined) retire(copy.index)
    copy.index = index
    copy.key = key
  } else if (copy.index !== index) {
    retire(index)
  } else if (u.retired && u.searches === 0) {
    index.release()
  }
}
