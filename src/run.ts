/**
 * Running a backend op, sync or async, with one error mapping and one AbortSignal policy:
 * already aborted → AbortError without starting; aborted while running → reject at once and
 * drop the result. Async native work runs on the addon's own threads through its `…Async` ops,
 * with a CancelToken that the abort raises; async 'js' work is deferred with setImmediate and
 * runs the reference on the main thread.
 */

import type { Backend, CancelToken, NativeBinding } from './backend'
import type { Target } from './device'
import { abortError, mapBackendError } from './errors'

/**
 * One checked call, ready to run: how to run it on a backend now (`run`) and on the addon's
 * threads (`start`), how to shape the raw result, or (`empty`) the result itself when the
 * input is empty and no backend needs to run.
 */
export interface Plan<R, Raw> {
  readonly target: Target
  readonly signal: AbortSignal | undefined
  readonly run: (backend: Backend) => Raw
  readonly start: (native: NativeBinding, token: CancelToken) => Promise<Raw>
  readonly shape: (raw: Raw) => R
  readonly empty?: R
  /** Told the native work's progress (units done of the current pass) while an async call runs. */
  readonly onProgress?: (done: number, total: number) => void
}

/** How often an async native call's progress is read while it runs. */
const PROGRESS_EVERY_MS = 100

/** Runs `run` on the target's backend now, throwing AbortError first if `signal` is already aborted. */
export function runSync<Raw>(target: Target, run: (backend: Backend) => Raw, signal?: AbortSignal): Raw {
  if (signal?.aborted) throw abortError(signal)
  try {
    return run(target.backend)
  } catch (err) {
    throw mapBackendError(err)
  }
}

/**
 * Starts the work without rejecting on abort itself (callers wrap it in {@link withSignal}): on
 * a native device, `start` with a CancelToken that an abort raises, so the native task stops at
 * its next block of work and frees its threads; on 'js', `run` on the reference after a
 * setImmediate, skipped when the signal aborted in between.
 */
export function startOp<Raw>(target: Target, run: (backend: Backend) => Raw,
  start: (native: NativeBinding, token: CancelToken) => Promise<Raw>, signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void): Promise<Raw> {
  if (target.native !== undefined) {
    const token = new target.native.CancelToken()
    const cancel = (): void => token.cancel()
    signal?.addEventListener('abort', cancel, { once: true })
    const work = start(target.native, token)
    // The native side counts finished rows in the token; read it now and then, and report
    // changes (never after the call settled).
    let last = -1
    const report = (): void => {
      const { done, total } = token
      if (total > 0 && done !== last) {
        last = done
        onProgress?.(done, total)
      }
    }
    const timer = onProgress === undefined ? undefined : setInterval(report, PROGRESS_EVERY_MS)
    timer?.unref()
    const done = (): void => {
      signal?.removeEventListener('abort', cancel)
      if (timer !== undefined) clearInterval(timer)
    }
    work.then(done, done)
    return work
  }
  const later = snapshotCall(target.backend, run)
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      if (signal?.aborted) return reject(abortError(signal))
      try {
        resolve(later())
      } catch (err) {
        reject(err)
      }
    })
  })
}

/**
 * `run` as a thunk over copies of its typed-array arguments, taken now: the 'js' device runs a
 * tick later, and caller code that runs in between (or a SharedArrayBuffer written by another
 * thread) must not change inputs that were already checked, just as the addon copies the
 * inputs of its async calls. A `run` that is not one backend call is deferred as it is.
 */
function snapshotCall<Raw>(backend: Backend, run: (backend: Backend) => Raw): () => Raw {
  let call: { name: string; args: unknown[] } | undefined
  const recorder = new Proxy(backend, {
    get: (target, name) => {
      const value: unknown = Reflect.get(target, name)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      return (...args: unknown[]) => {
        call = { name, args: args.map((a) => (ArrayBuffer.isView(a) && !(a instanceof DataView) ? (a as Float32Array).slice() : a)) }
      }
    },
  })
  run(recorder)
  if (call === undefined) return () => run(backend)
  const { name, args } = call
  return () => (backend as unknown as Record<string, (...a: unknown[]) => Raw>)[name](...args)
}

/**
 * Runs `start()` under `signal`: rejects with AbortError without calling `start` when already
 * aborted, and at once when the signal aborts later (the eventual result or error is dropped).
 * Other failures go through {@link mapBackendError}.
 */
export function withSignal<T>(signal: AbortSignal | undefined, start: () => Promise<T>): Promise<T> {
  if (signal?.aborted) return Promise.reject(abortError(signal))
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const onAbort = (): void => {
      if (settled) return
      settled = true
      reject(abortError(signal))
    }
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      signal?.removeEventListener('abort', onAbort)
      return true
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    let work: Promise<T>
    try {
      work = start()
    } catch (err) {
      if (settle()) reject(mapBackendError(err))
      return
    }
    work.then(
      (value) => { if (settle()) resolve(value) },
      (err: unknown) => { if (settle()) reject(mapBackendError(err)) },
    )
  })
}

/** Runs a plan synchronously. */
export function execSync<R, Raw>(plan: Plan<R, Raw>): R {
  if (plan.empty !== undefined) {
    if (plan.signal?.aborted) throw abortError(plan.signal)
    return plan.empty
  }
  return plan.shape(runSync(plan.target, plan.run, plan.signal))
}

/** Runs a plan asynchronously: off the main thread on a native device (see {@link startOp}). */
export async function execAsync<R, Raw>(plan: Plan<R, Raw>): Promise<R> {
  if (plan.empty !== undefined) {
    if (plan.signal?.aborted) throw abortError(plan.signal)
    return plan.empty
  }
  const { target, run, start, signal, onProgress } = plan
  return plan.shape(await withSignal(signal, () => startOp(target, run, start, signal, onProgress)))
}

/**
 * Checks the length of an array a backend returned, so that a backend bug surfaces as a clear
 * Error here rather than as wrong shapes further on.
 */
export function expectLength<T extends { length: number }>(value: T, length: number, what: string): T {
  if (value == null || typeof value.length !== 'number' || value.length !== length) {
    throw new Error(`tripletkit internal error: the backend returned ${what} of length ${value?.length}, expected ${length}`)
  }
  return value
}
