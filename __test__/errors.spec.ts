import test from 'ava'
import * as tk from '../index'
import { DEVICES, type TestDevice } from './helpers/devices'
import { OPS, type Fn } from './helpers/ops'

// Every bad input throws (sync) or rejects (async) with a TypeError (wrong type) or RangeError (bad
// size, value or shape) whose message names the argument and says what was expected and what was
// received. Inputs are deliberately ill-typed, hence the `any`s.
/* eslint-disable @typescript-eslint/no-explicit-any */

const X = [[0, 1], [1, 0], [2, 2], [3, 1]] // 4 × 2
const Y = [0, 0, 1, 1]
const X3 = [[0, 1, 2], [1, 0, 2]] // 2 × 3

interface Case {
  what: string
  op: keyof typeof OPS
  /** The arguments, given the device (appended to the options object by the case itself). */
  args: (device: TestDevice) => any[]
  error: typeof TypeError | typeof RangeError
  /** What the message must mention: the argument's name (and, for shapes, the sizes). */
  message: RegExp[]
}

const d = (device: TestDevice, o: object = {}) => ({ ...o, device })
const CASES: Case[] = [
  // --- MatrixLike ---
  { what: 'a string for a matrix', op: 'pairwiseDistances', args: (v) => ['x', undefined, d(v)], error: TypeError, message: [/\ba\b/] },
  { what: 'null for a matrix', op: 'pairwiseDistances', args: (v) => [null, undefined, d(v)], error: TypeError, message: [/\ba\b/] },
  { what: 'a flat number array for a matrix', op: 'pairwiseDistances', args: (v) => [[1, 2, 3], undefined, d(v)], error: TypeError, message: [/\ba\b/] },
  { what: 'a ragged row', op: 'pairwiseDistances', args: (v) => [[[1, 2], [3]], undefined, d(v)], error: RangeError, message: [/\ba\b/, /2/, /1/] },
  { what: 'a string in a row', op: 'pairwiseDistances', args: (v) => [[[1, 'a']], undefined, d(v)], error: TypeError, message: [/\ba\b/] },
  { what: 'NaN in a row', op: 'pairwiseDistances', args: (v) => [[[1, 2], [NaN, 0]], undefined, d(v)], error: RangeError, message: [/\ba\b/, /NaN/] },
  { what: 'Infinity in a row', op: 'pairwiseDistances', args: (v) => [[[1, 2], [0, Infinity]], undefined, d(v)], error: RangeError, message: [/\ba\b/, /Infinity/] },
  { what: '-Infinity in b', op: 'pairwiseDistances', args: (v) => [X, [[0, -Infinity]], d(v)], error: RangeError, message: [/\bb\b/, /Infinity/] },
  { what: 'NaN in a Matrix', op: 'knn', args: (v) => [X, { data: new Float32Array([0, 1, NaN, 0]), rows: 2, cols: 2 }, d(v, { k: 1 })], error: RangeError, message: [/corpus/, /NaN/] },
  { what: 'a Matrix whose data is a plain array', op: 'pairwiseDistances', args: (v) => [{ data: [1, 2], rows: 1, cols: 2 }, undefined, d(v)], error: TypeError, message: [/\ba\b/, /Float32Array/] },
  { what: 'a Matrix whose data has the wrong length', op: 'pairwiseDistances', args: (v) => [{ data: new Float32Array(3), rows: 2, cols: 2 }, undefined, d(v)], error: RangeError, message: [/\ba\b/, /4/, /3/] },
  { what: 'a Matrix with fractional rows', op: 'pairwiseDistances', args: (v) => [{ data: new Float32Array(4), rows: 1.5, cols: 2 }, undefined, d(v)], error: RangeError, message: [/rows/] },
  { what: 'b with other columns than a', op: 'pairwiseDistances', args: (v) => [X, X3, d(v)], error: RangeError, message: [/\bb\b/, /2/, /3/] },
  { what: 'corpus with other columns than the queries', op: 'knn', args: (v) => [X, X3, d(v, { k: 1 })], error: RangeError, message: [/corpus/, /2/, /3/] },
  { what: 'reference with other columns than the queries', op: 'retrievalMetrics', args: (v) => [X, Y, d(v, { reference: X3, referenceLabels: [0, 1] })], error: RangeError, message: [/reference/, /2/, /3/] },
  { what: 'positive with other rows than anchor', op: 'tripletMarginLoss', args: (v) => [X, X.slice(1), X, d(v)], error: RangeError, message: [/positive/, /4/, /3/] },
  { what: 'negative with other columns than anchor', op: 'tripletMarginLoss', args: (v) => [X3, X3, [[1, 2], [3, 4]], d(v)], error: RangeError, message: [/negative/, /3/, /2/] },
  // --- options: types and values ---
  { what: 'options that are not an object', op: 'pairwiseDistances', args: () => [X, undefined, 'fast'], error: TypeError, message: [/opt/] },
  { what: 'an unknown metric', op: 'pairwiseDistances', args: (v) => [X, undefined, d(v, { metric: 'manhattan' })], error: RangeError, message: [/metric/, /manhattan/] },
  { what: 'a metric that is not a string', op: 'knn', args: (v) => [X, X, d(v, { k: 1, metric: 5 })], error: TypeError, message: [/metric/] },
  { what: 'normalize that is not a boolean', op: 'pairwiseDistances', args: (v) => [X, undefined, d(v, { normalize: 'yes' })], error: TypeError, message: [/normalize/] },
  { what: 'an unknown device', op: 'pairwiseDistances', args: () => [X, undefined, { device: 'tpu' }], error: RangeError, message: [/device/, /tpu/] },
  { what: 'a device that is not a string', op: 'mineTriplets', args: () => [X, Y, { strategy: 'all', device: 1 }], error: TypeError, message: [/device/] },
  // --- knn: k and friends ---
  { what: 'knn without k', op: 'knn', args: (v) => [X, X, d(v)], error: TypeError, message: [/\bk\b/] },
  { what: 'knn without options', op: 'knn', args: () => [X, X], error: TypeError, message: [/\bk\b|opt/] },
  { what: 'k as a string', op: 'knn', args: (v) => [X, X, d(v, { k: '2' })], error: TypeError, message: [/\bk\b/] },
  { what: 'k = 0', op: 'knn', args: (v) => [X, X, d(v, { k: 0 })], error: RangeError, message: [/\bk\b/, /0/] },
  { what: 'k negative', op: 'knn', args: (v) => [X, X, d(v, { k: -1 })], error: RangeError, message: [/\bk\b/] },
  { what: 'k fractional', op: 'knn', args: (v) => [X, X, d(v, { k: 1.5 })], error: RangeError, message: [/\bk\b/, /1\.5/] },
  { what: 'k NaN', op: 'knn', args: (v) => [X, X, d(v, { k: NaN })], error: RangeError, message: [/\bk\b/] },
  { what: 'k > corpus size', op: 'knn', args: (v) => [X, X, d(v, { k: 5 })], error: RangeError, message: [/\bk\b/, /4/, /5/] },
  { what: 'k = corpus size with excludeSelf', op: 'knn', args: (v) => [X, X, d(v, { k: 4, excludeSelf: true })], error: RangeError, message: [/\bk\b/, /3/, /4/] },
  { what: 'excludeSelf that is not a boolean', op: 'knn', args: (v) => [X, X, d(v, { k: 1, excludeSelf: 1 })], error: TypeError, message: [/excludeSelf/] },
  { what: 'batchSize = 0', op: 'knn', args: (v) => [X, X, d(v, { k: 1, batchSize: 0 })], error: RangeError, message: [/batchSize/] },
  { what: 'onProgress that is not a function', op: 'knn', args: (v) => [X, X, d(v, { k: 1, onProgress: 'x' })], error: TypeError, message: [/onProgress/] },
  { what: 'signal that is not an AbortSignal', op: 'knn', args: (v) => [X, X, d(v, { k: 1, signal: {} })], error: TypeError, message: [/signal/] },
  { what: 'retrieval k = 0', op: 'retrievalMetrics', args: (v) => [X, Y, d(v, { k: 0 })], error: RangeError, message: [/\bk\b/] },
  // --- labels ---
  { what: 'labels of the wrong length', op: 'mineTriplets', args: (v) => [X, [0, 0, 1], d(v, { strategy: 'all' })], error: RangeError, message: [/labels/, /4/, /3/] },
  { what: 'an Int32Array of labels of the wrong length', op: 'tripletLoss', args: (v) => [X, new Int32Array(5), d(v)], error: RangeError, message: [/labels/, /4/, /5/] },
  { what: 'a non-integer label', op: 'mineTriplets', args: (v) => [X, [0, 0.5, 1, 1], d(v, { strategy: 'all' })], error: RangeError, message: [/labels/, /0\.5/] },
  { what: 'a label beyond int32', op: 'tripletLoss', args: (v) => [X, [0, 0, 2 ** 31, 1], d(v)], error: RangeError, message: [/labels/] },
  { what: 'a NaN label', op: 'retrievalMetrics', args: (v) => [X, [0, NaN, 1, 1], d(v)], error: RangeError, message: [/queryLabels/] },
  { what: 'labels as a string', op: 'mineTriplets', args: (v) => [X, 'abcd', d(v, { strategy: 'all' })], error: TypeError, message: [/labels/] },
  { what: 'a string label', op: 'tripletLoss', args: (v) => [X, [0, 0, 'a', 1], d(v)], error: TypeError, message: [/labels/] },
  { what: 'referenceLabels of the wrong length', op: 'retrievalMetrics', args: (v) => [X, Y, d(v, { reference: X, referenceLabels: [0, 1] })], error: RangeError, message: [/referenceLabels/, /4/, /2/] },
  { what: 'reference without referenceLabels', op: 'retrievalMetrics', args: (v) => [X, Y, d(v, { reference: X })], error: TypeError, message: [/referenceLabels/] },
  // --- mining ---
  { what: 'mineTriplets without a strategy', op: 'mineTriplets', args: (v) => [X, Y, d(v)], error: TypeError, message: [/strategy/] },
  { what: 'an unknown strategy', op: 'mineTriplets', args: (v) => [X, Y, d(v, { strategy: 'hardest' })], error: RangeError, message: [/strategy/, /hardest/] },
  { what: 'an unknown mining strategy in tripletLoss', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: 'hardest' })], error: RangeError, message: [/mining/, /hardest/] },
  { what: 'a NaN margin', op: 'mineTriplets', args: (v) => [X, Y, d(v, { strategy: 'semihard', margin: NaN })], error: RangeError, message: [/margin/] },
  { what: 'an infinite margin', op: 'tripletLoss', args: (v) => [X, Y, d(v, { margin: Infinity })], error: RangeError, message: [/margin/] },
  { what: 'a margin string', op: 'tripletMarginLoss', args: (v) => [X, X, X, d(v, { margin: '1' })], error: TypeError, message: [/margin/] },
  { what: 'an unknown reduction', op: 'tripletLoss', args: (v) => [X, Y, d(v, { reduction: 'max' })], error: RangeError, message: [/reduction/, /max/] },
  { what: "tripletLoss reduction 'none' (tripletMarginLoss only)", op: 'tripletLoss', args: (v) => [X, Y, d(v, { reduction: 'none' })], error: RangeError, message: [/reduction/] },
  { what: "tripletMarginLoss reduction 'mean-active' (tripletLoss only)", op: 'tripletMarginLoss', args: (v) => [X, X, X, d(v, { reduction: 'mean-active' })], error: RangeError, message: [/reduction/] },
  { what: 'swap that is not a boolean', op: 'tripletLoss', args: (v) => [X, Y, d(v, { swap: 1 })], error: TypeError, message: [/swap/] },
  { what: 'softMargin that is not a boolean', op: 'tripletMarginLoss', args: (v) => [X, X, X, d(v, { softMargin: 'no' })], error: TypeError, message: [/softMargin/] },
  // --- a Triplets object ---
  { what: 'Triplets with an index past the rows', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: trip([0], [1], [4]) })], error: RangeError, message: [/negative/, /4/] },
  { what: 'Triplets with a negative index', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: trip([-1], [1], [2]) })], error: RangeError, message: [/anchor/, /-1/] },
  { what: 'Triplets arrays of different lengths', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: trip([0, 1], [1], [2, 3]) })], error: RangeError, message: [/positive/, /2/, /1/] },
  { what: 'Triplets with length not matching the arrays', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: { ...trip([0], [1], [2]), length: 3 } })], error: RangeError, message: [/length/] },
  { what: 'Triplets with a string for an index array', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: { anchor: 'x', positive: new Int32Array(1), negative: new Int32Array(1), length: 1 } })], error: TypeError, message: [/anchor/] },
  { what: 'Triplets with a fractional index', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: { anchor: [0.5], positive: [1], negative: [2] } })], error: RangeError, message: [/anchor/] },
  { what: 'mining that is a number', op: 'tripletLoss', args: (v) => [X, Y, d(v, { mining: 3 })], error: TypeError, message: [/mining/] },
]

function trip(a: number[], p: number[], n: number[]) {
  return { anchor: Int32Array.from(a), positive: Int32Array.from(p), negative: Int32Array.from(n), length: a.length }
}

function checkError(t: import('ava').ExecutionContext, err: unknown, c: Case, how: string) {
  t.true(err instanceof c.error, `${how}: expected a ${c.error.name}, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`)
  if (err instanceof Error) for (const re of c.message) t.regex(err.message, re, `${how}: the message should mention ${re}`)
}

for (const device of DEVICES) {
  for (const c of CASES) {
    test(`[${device}] ${c.op}Sync: ${c.what} → ${c.error.name}`, (t) => {
      let err: unknown
      try {
        const [sync]: [Fn, Fn] = OPS[c.op]
        sync(...c.args(device))
      } catch (e) {
        err = e
      }
      if (err === undefined) t.fail('did not throw')
      else checkError(t, err, c, 'sync')
    })

    test(`[${device}] ${c.op}: ${c.what} → rejects with ${c.error.name} (never throws synchronously)`, async (t) => {
      let promise: Promise<unknown> | undefined
      t.notThrows(() => {
        const [, later]: [Fn, Fn] = OPS[c.op]
        promise = later(...c.args(device))
      })
      if (!promise) return
      t.true(promise instanceof Promise)
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      )
      if (err === undefined) t.fail('did not reject')
      else checkError(t, err, c, 'async')
    })
  }
}

test("device 'cuda' runs every function where available, else is a coded plain Error, sync and async", async (t) => {
  const calls: [Fn, any[]][] = [
    [tk.pairwiseDistancesSync, [X, undefined]],
    [tk.knnSync, [X, X]],
    [tk.mineTripletsSync, [X, Y]],
    [tk.tripletLossSync, [X, Y]],
    [tk.tripletMarginLossSync, [X, X, X]],
    [tk.retrievalMetricsSync, [X, Y]],
  ]
  const asyncs: Fn[] = [tk.pairwiseDistances, tk.knn, tk.mineTriplets, tk.tripletLoss, tk.tripletMarginLoss, tk.retrievalMetrics]
  const extra = [{}, { k: 1 }, { strategy: 'all' }, {}, {}, {}]
  const available = tk.backends().cuda.available
  for (let i = 0; i < calls.length; i++) {
    const [fn, args] = calls[i]
    const opts = { ...extra[i], device: 'cuda' }
    if (available) {
      // Where CUDA runs, every function runs on it, sync and async alike.
      t.deepEqual(Object.keys(fn(...args, opts)).sort(), Object.keys(fn(...args, { ...opts, device: 'cpu' })).sort())
      t.deepEqual(Object.keys(await asyncs[i](...args, opts)).sort(), Object.keys(fn(...args, opts)).sort())
      continue
    }
    const err = t.throws(() => fn(...args, opts))
    t.is(err?.constructor, Error, `${fn.name}: a plain Error, not a TypeError/RangeError`)
    t.is((err as any)?.code, 'ERR_TRIPLETKIT_DEVICE_UNAVAILABLE')
    t.regex(err?.message ?? '', /cuda/i)
    let p: Promise<unknown> | undefined
    t.notThrows(() => {
      p = asyncs[i](...args, opts)
    }, `${fn.name}: the async twin rejects rather than throws`)
    const aerr = await t.throwsAsync(p!)
    t.is(aerr?.constructor, Error)
    t.is((aerr as any)?.code, 'ERR_TRIPLETKIT_DEVICE_UNAVAILABLE')
    t.regex(aerr?.message ?? '', /cuda/i)
  }
})

test('bad input on every function and device never takes the process down', (t) => {
  // Each call returns or throws an Error; nothing here may crash, hang or return garbage silently.
  const weird: any[] = [
    undefined, null, 0, '', [], [[]], [[], []], {}, { data: new Float32Array(0), rows: 0, cols: 0 },
    { data: new Float32Array(4), rows: 2 ** 31, cols: 2 ** 31 }, { data: new Float32Array(4), rows: -2, cols: -2 },
    { data: new Float32Array(4), rows: 4, cols: 1, extra: true }, new Float32Array(4), [new Float32Array(2), new Float32Array(2)],
    [[1, 2], [3, 4]], Symbol('x'), () => 1, new Proxy({}, { get: () => { throw new Error('getter') } }),
  ]
  const labelsWeird: any[] = [undefined, null, [], [0, 1], new Int32Array(2), new Uint8Array(2), [1n, 2n], 'ab']
  let calls = 0
  const attempt = (f: () => unknown) => {
    calls++
    try {
      f()
    } catch (e) {
      if (!(e instanceof Error)) t.fail(`threw a non-Error: ${String(e)}`)
    }
  }
  for (const device of ['js', 'cpu', 'auto', undefined] as const) {
    for (const w of weird) {
      attempt(() => tk.pairwiseDistancesSync(w, undefined, { device }))
      attempt(() => tk.pairwiseDistancesSync([[1, 2]], w, { device }))
      attempt(() => tk.knnSync(w, [[1, 2]], { k: 1, device }))
      attempt(() => tk.knnSync([[1, 2]], w, { k: 1, device }))
      attempt(() => tk.knnSync([[1, 2]], [[1, 2]], { k: w, device }))
      attempt(() => tk.mineTripletsSync(w, [0, 1], { strategy: 'batch-hard', device }))
      attempt(() => tk.tripletLossSync(w, [0, 1], { device }))
      attempt(() => tk.tripletLossSync([[1, 2], [3, 4]], [0, 0], { mining: w, device }))
      attempt(() => tk.tripletMarginLossSync(w, w, w, { device }))
      attempt(() => tk.retrievalMetricsSync(w, [0, 1], { device }))
      attempt(() => tk.retrievalMetricsSync([[1, 2], [3, 4]], [0, 0], { k: w, device }))
      attempt(() => tk.contrastiveLossSync(w, [0, 1], { device }))
      attempt(() => tk.contrastiveLossSync([[1, 2], [3, 4]], [0, 1], { negMargin: w, device }))
      attempt(() => tk.multipleNegativesRankingLossSync(w, w, { device }))
      attempt(() => tk.multipleNegativesRankingLossSync([[1, 2]], [[3, 4]], { negatives: w, scale: w, device }))
      attempt(() => tk.ladderLossSync(w, [[1, 2]], [[1]], { thresholds: [0.5], margins: [0.1], device }))
      attempt(() => tk.ladderLossSync([[1, 2]], [[1, 2]], w, { thresholds: w, margins: w, device }))
      attempt(() => tk.verificationMetricsSync(w, w, [true, false], { device }))
      attempt(() => tk.verificationMetricsSync([[1, 2], [3, 4]], [[1, 2], [3, 4]], w, { far: w, device }))
      attempt(() => tk.mineHardNegativesSync(w, [[1, 2]], [0], { device }))
      attempt(() => tk.mineHardNegativesSync([[1, 2]], [[1, 2], [3, 4]], w, { numNegatives: w, rangeMax: w, device }))
      attempt(() => tk.mineTripletsSync([[1, 2], [3, 4]], [0, 1], { strategy: 'all', reference: w, referenceLabels: w, device }))
      attempt(() => tk.tripletLossSync([[1, 2], [3, 4]], [0, 1], { reference: [[1, 2]], referenceLabels: w, mining: w, device }))
      attempt(() => tk.fitLinearAdapterSync(w, [0, 0, 1, 1], { epochs: 1, device }))
      attempt(() => tk.fitLinearAdapterSync([[1, 2], [1, 3], [4, 2], [5, 1]], [0, 0, 1, 1], { dim: w, epochs: 1, validation: w, device }))
      attempt(() => tk.fitOasisSync(w, [0, 0, 1], { steps: 3, device }))
      attempt(() => tk.fitOasisSync([[1, 2], [1, 3], [4, 2]], [0, 0, 1], { steps: w, c: w, validation: w, device }))
    }
    for (const l of labelsWeird) {
      attempt(() => tk.mineTripletsSync([[1, 2], [3, 4]], l, { strategy: 'all', device }))
      attempt(() => tk.tripletLossSync([[1, 2], [3, 4]], l, { device }))
      attempt(() => tk.retrievalMetricsSync([[1, 2], [3, 4]], l, { device }))
    }
    attempt(() => tk.knnSync([[1, 2]], [[1, 2]], { k: 2 ** 40, device }))
    attempt(() => tk.knnSync([[1, 2]], [[1, 2]], { k: 1, batchSize: 2 ** 40, device }))
    attempt(() => tk.mineTripletsSync([[1e38, 1e38], [-1e38, -1e38]], [0, 1], { strategy: 'all', metric: 'sqeuclidean', device }))
  }
  t.log(`${calls} calls survived`)
  t.pass()
})

test('huge but finite values do not produce NaN silently', (t) => {
  // float32 overflow to Infinity in a distance is an honest answer; NaN is not.
  for (const device of DEVICES) {
    for (const metric of ['euclidean', 'sqeuclidean', 'cosine', 'dot'] as const) {
      let r: tk.Matrix | undefined
      try {
        r = tk.pairwiseDistancesSync([[3e38, 3e38], [-3e38, 1]], undefined, { metric, device })
      } catch (e) {
        t.true(e instanceof Error)
        continue
      }
      t.false(Array.from(r.data).some(Number.isNaN), `${device} ${metric}: ${Array.from(r.data)}`)
    }
  }
})
