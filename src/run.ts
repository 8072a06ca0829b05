/**
 * Running a backend op, sync or async, with one error mapping and one AbortSignal policy:
 * already aborted → AbortError without starting; aborted while running → reject at once and
 * drop the result. Async 'cpu' work runs on the libuv pool through the addon's `…Async` ops;
 * async 'js' work is deferred with setImmediate and runs the reference on the main thread.
 */

import type { Backend } from './backend'
import type { Target } from './device'
import { abortError, mapBackendError } from './errors'

/** The name of a backend op. */
export type Op = keyof Backend
type AnyFn = (...args: unknown[]) => unknown

/** Runs `op` on the target's backend now, throwing AbortError first if `signal` is already aborted. */
export function runSync<K extends Op>(target: Target, op: K, args: Parameters<Backend[K]>, signal?: AbortSignal): ReturnType<Backend[K]> {
  if (signal?.aborted) throw abortError(signal)
  try {
    return (target.backend[op] as AnyFn).apply(target.backend, args) as ReturnType<Backend[K]>
  } catch (err) {
    throw mapBackendError(err)
  }
}

/** Runs `op` off the main thread where the device allows, honouring `signal`. */
export function runAsync<K extends Op>(target: Target, op: K, args: Parameters<Backend[K]>, signal?: AbortSignal): Promise<ReturnType<Backend[K]>> {
  return withSignal(signal, () => startOp(target, op, args, signal))
}

/**
 * Starts `op` without rejecting on abort itself (callers wrap it in {@link withSignal}): the
 * addon's `…Async` twin for 'cpu', with a CancelToken that an abort raises so the native task
 * stops at its next block of work and frees its threads; for 'js', the reference after a
 * setImmediate, skipped when the signal aborted in between.
 */
export function startOp<K extends Op>(target: Target, op: K, args: Parameters<Backend[K]>, signal?: AbortSignal): Promise<ReturnType<Backend[K]>> {
  if (target.native !== undefined) {
    const native = target.native
    const token = new native.CancelToken()
    const cancel = (): void => token.cancel()
    signal?.addEventListener('abort', cancel, { once: true })
    const work = (native[`${op}Async`] as AnyFn).apply(native, [...args, token]) as Promise<ReturnType<Backend[K]>>
    const done = (): void => signal?.removeEventListener('abort', cancel)
    work.then(done, done)
    return work
  }
  const backend = target.backend
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      if (signal?.aborted) return reject(abortError(signal))
      try {
        resolve((backend[op] as AnyFn).apply(backend, args) as ReturnType<Backend[K]>)
      } catch (err) {
        reject(err)
      }
    })
  })
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

/**
 * One checked call, ready to run: the op and its arguments, how to shape the raw backend result,
 * or (`empty`) the result itself when the input is empty and no backend needs to run.
 */
export interface Plan<K extends Op, R> {
  readonly target: Target
  readonly op: K
  readonly args: Parameters<Backend[K]>
  readonly signal: AbortSignal | undefined
  readonly shape: (raw: ReturnType<Backend[K]>) => R
  readonly empty?: R
}

/** Runs a plan synchronously. */
export function execSync<K extends Op, R>(plan: Plan<K, R>): R {
  if (plan.empty !== undefined) {
    if (plan.signal?.aborted) throw abortError(plan.signal)
    return plan.empty
  }
  return plan.shape(runSync(plan.target, plan.op, plan.args, plan.signal))
}

/** Runs a plan asynchronously (see {@link runAsync}). */
export async function execAsync<K extends Op, R>(plan: Plan<K, R>): Promise<R> {
  if (plan.empty !== undefined) {
    if (plan.signal?.aborted) throw abortError(plan.signal)
    return plan.empty
  }
  return plan.shape(await runAsync(plan.target, plan.op, plan.args, plan.signal))
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
