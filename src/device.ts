/**
 * Device choice: what `backends()` reports, and turning a `Device` option into the backend that
 * runs the call. Naming a device that cannot run is an error, never a silent fallback.
 */

import type { Backend, NativeBinding } from './backend'
import { loadNative } from './native'
import { reference } from './reference'
import type { BackendsInfo, Device } from './types'

/** The message for device 'cuda' (docs/SEMANTICS.md). */
export const CUDA_UNAVAILABLE = "device 'cuda' is not available: this build of tripletkit has no CUDA backend yet"

/** A resolved device: the backend that runs the call, and for 'cpu' the addon with its `…Async` ops. */
export type Target =
  | { readonly device: 'cpu'; readonly backend: Backend; readonly native: NativeBinding }
  | { readonly device: 'js'; readonly backend: Backend; readonly native?: undefined }

/**
 * Reports which devices can run on this machine, and why not where one cannot.
 *
 * @example
 * backends()
 * // { cuda: { available: false, reason: '…' }, cpu: { available: true, threads: 16 }, js: { available: true } }
 */
export function backends(): BackendsInfo {
  const load = loadNative()
  let cpu: BackendsInfo['cpu']
  if (load.ok) {
    cpu = { available: true }
    try {
      cpu.threads = load.binding.cpuThreads()
    } catch {
      // The thread count is informative only; an addon that cannot report it still runs.
    }
  } else {
    cpu = { available: false, reason: `the native addon failed to load: ${firstLine(load.error)}` }
  }
  return {
    cuda: { available: false, reason: 'this build of tripletkit has no CUDA backend yet' },
    cpu,
    js: { available: true },
  }
}

/**
 * Resolves a (checked) `Device` to the backend that runs it: 'auto' → the native CPU backend
 * when the addon loaded, else 'js'; 'cuda' → Error (no CUDA backend in this build); 'cpu'
 * without the addon → Error naming the load failure.
 */
export function resolveDevice(device: Device): Target {
  switch (device) {
    case 'js':
      return { device: 'js', backend: reference }
    case 'cuda':
      throw new Error(CUDA_UNAVAILABLE)
    case 'cpu': {
      const load = loadNative()
      if (!load.ok) {
        throw new Error(`device 'cpu' is not available: the native addon failed to load: ${firstLine(load.error)}`, { cause: load.error })
      }
      return { device: 'cpu', backend: load.binding, native: load.binding }
    }
    case 'auto': {
      const load = loadNative()
      return load.ok ? { device: 'cpu', backend: load.binding, native: load.binding } : { device: 'js', backend: reference }
    }
  }
}

// Node's "Cannot find module" messages go on with a require stack: the first line is the reason,
// and the whole error stays available as `cause`.
function firstLine(err: Error): string {
  return err.message.split('\n', 1)[0]
}
