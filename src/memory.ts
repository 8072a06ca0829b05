/**
 * How much memory a call may still use, read the same way as the native core reads it, so that
 * a request that cannot fit is refused before anything is allocated.
 */

import { freemem } from 'node:os'
import { loadNative } from './native'

/** Bytes above this are "no limit" in a cgroup file (v1 writes about 2^63). */
const NO_LIMIT = 2 ** 60

/**
 * Bytes this process can still allocate now, less what calls in flight have reserved: from the
 * native budget (host memory, container limit, `ulimit -v`; shared by every thread and worker
 * of the process) when the addon is loaded, else from Node (`os.freemem()` and
 * `process.constrainedMemory()` less this process's resident size).
 */
export function memoryHeadroom(): number {
  const native = loadNative()
  if (native.ok) {
    const b = native.binding.memoryBudget()
    if (b.available != null) return Math.max(0, b.available - b.reserved)
  }
  let headroom = freemem()
  const limit = process.constrainedMemory?.() ?? 0
  if (limit > 0 && limit < NO_LIMIT) headroom = Math.min(headroom, Math.max(0, limit - process.memoryUsage.rss()))
  return headroom
}
