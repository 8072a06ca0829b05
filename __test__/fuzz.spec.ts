/**
 * Property-based fuzzing of every public function: random valid calls agree across devices and
 * with their async twins; random broken calls end in a TypeError, RangeError or AbortError
 * with a message that names the argument, never in a crash, a hang or a result. Cases run
 * within a time budget; `TRIPLETKIT_FUZZ_SECONDS` (per property, default 20) and
 * `TRIPLETKIT_FUZZ_RUNS` (default 5000) make a longer soak.
 */
import test, { type ExecutionContext } from 'ava'
import fc from 'fast-check'
import * as tk from '../index'
import { breakCase, onDevice, validCase } from './helpers/fuzzCases'

const SECONDS = Number(process.env.TRIPLETKIT_FUZZ_SECONDS ?? 20)
const RUNS = Number(process.env.TRIPLETKIT_FUZZ_RUNS ?? 5000)
const SETTINGS = { numRuns: RUNS, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false, endOnFailure: true }

/** Runs a property and fails the test with the first counterexample's error, kept short. */
async function holds(t: ExecutionContext, property: fc.IAsyncProperty<[fc.GeneratorValue]>, settings: fc.Parameters<[fc.GeneratorValue]>): Promise<void> {
  const out = await fc.check(property, settings)
  if (out.failed) {
    const err = out.errorInstance as Error | undefined
    t.fail(`after ${out.numRuns} cases (seed ${out.seed}): ${String(err?.message ?? err).slice(0, 1500)}`)
  }
}

type Fn = (...args: unknown[]) => unknown
const api = tk as unknown as Record<string, Fn>
const syncOf = (fn: string): Fn => api[`${fn}Sync`]
const asyncOf = (fn: string): Fn => api[fn]

/** Where two results differ beyond `tol` (index arrays must be equal), or undefined. */
function differ(a: unknown, b: unknown, tol: number, at = 'result'): string | undefined {
  if (typeof a === 'function' && typeof b === 'function') return undefined // a model's methods
  if (typeof a === 'number' && typeof b === 'number') {
    if (tol === Infinity) return Number.isFinite(a) === Number.isFinite(b) ? undefined : `${at}: ${a} vs ${b}`
    if (Object.is(a, b) || Math.abs(a - b) <= tol * (1 + Math.max(Math.abs(a), Math.abs(b)))) return undefined
    return `${at}: ${a} vs ${b}`
  }
  if ((a instanceof Int32Array || b instanceof Int32Array) && tol !== Infinity) {
    return a instanceof Int32Array && b instanceof Int32Array && a.length === b.length && a.every((v, i) => v === b[i])
      ? undefined : `${at}: ${String(a)} vs ${String(b)}`
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>
    if (x.length !== y.length) return `${at}: length ${x.length} vs ${y.length}`
    for (let i = 0; i < x.length; i++) {
      const d = differ(x[i], y[i], tol, `${at}[${i}]`)
      if (d !== undefined) return d
    }
    return undefined
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) {
      const d = differ((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${at}.${k}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  return Object.is(a, b) ? undefined : `${at}: ${String(a)} vs ${String(b)}`
}

/** The error `f` throws (or its promise rejects with), or 'no error'. */
async function failureOf(f: () => unknown): Promise<unknown> {
  try {
    await f()
  } catch (err) {
    return err
  }
  return 'no error'
}

/** Whether `err` is what a refused call must end in: the right class and a message that names something. */
function refusal(err: unknown, allowed: readonly string[]): string | undefined {
  if (!(err instanceof Error)) return `not an Error: ${String(err)}`
  if (!allowed.includes(err.name)) return `${err.name}: ${err.message}`
  if (err.name !== 'AbortError' && !/^[A-Za-z][\w.[\]]*(: | )/.test(err.message)) return `message names nothing: ${err.message}`
  return undefined
}

const counts = { valid: 0, broken: 0, aborted: 0 }

test.serial('valid calls agree between cpu and js, sync and async, in every input layout', async (t) => {
  await holds(t, fc.asyncProperty(fc.gen(), async (g) => {
    const c = validCase(g)
    counts.valid++
    const cpu = syncOf(c.fn)(...onDevice(c, 'cpu'))
    const js = syncOf(c.fn)(...onDevice(c, 'js'))
    const d = differ(cpu, js, c.tol)
    if (d !== undefined) throw new Error(`${c.fn} cpu vs js: ${d}`)
    const device = g(() => fc.constantFrom('cpu', 'js'))
    const later = await asyncOf(c.fn)(...onDevice(c, device))
    const e = differ(later, device === 'cpu' ? cpu : js, 0)
    if (e !== undefined) throw new Error(`${c.fn} async vs sync on ${device}: ${e}`)
  }), SETTINGS)
  t.log(`${counts.valid} valid calls`)
  t.true(counts.valid >= 200)
})

test.serial('broken calls end in a TypeError or RangeError that names the argument, sync and async', async (t) => {
  await holds(t, fc.asyncProperty(fc.gen(), async (g) => {
    const { args, how } = breakCase(g, validCase(g))
    counts.broken++
    const fn = how.slice(0, how.indexOf(':'))
    for (const run of [() => syncOf(fn)(...args), () => asyncOf(fn)(...args)]) {
      const bad = refusal(await failureOf(run), ['TypeError', 'RangeError'])
      if (bad !== undefined) throw new Error(`${how}: ${bad}`)
    }
  }), SETTINGS)
  t.log(`${counts.broken} broken calls, each sync and async`)
  t.true(counts.broken >= 200)
})

test.serial('an aborted signal ends every call in an AbortError', async (t) => {
  await holds(t, fc.asyncProperty(fc.gen(), async (g) => {
    const c = validCase(g)
    counts.aborted++
    const args = onDevice(c, g(() => fc.constantFrom('cpu', 'js')), { signal: AbortSignal.abort() })
    for (const run of [() => syncOf(c.fn)(...args), () => asyncOf(c.fn)(...args)]) {
      const bad = refusal(await failureOf(run), ['AbortError'])
      if (bad !== undefined) throw new Error(`${c.fn}: ${bad}`)
    }
  }), { ...SETTINGS, numRuns: Math.ceil(RUNS / 10) })
  t.log(`${counts.aborted} aborted calls, each sync and async`)
  t.true(counts.aborted >= 50)
})
