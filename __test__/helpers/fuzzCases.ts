/**
 * Random calls of every public function for the fuzz suite: valid ones (small integer-valued
 * inputs, so every device computes the same distances exactly; every input layout: arrays of
 * rows, typed arrays, views at an offset, SharedArrayBuffer-backed) and the ways to break them.
 */
import fc from 'fast-check'

export type Kind = 'matrix' | 'labels' | 'indices' | 'flags' | 'opts'

/** One call: `fn` (a public function name without `Sync`), its arguments and what each is. */
export interface Case {
  fn: string
  args: unknown[]
  kinds: Kind[]
  /** Values may differ across devices only by this relative rounding (index results must be equal); Infinity: any finite value. */
  tol: number
}

const METRICS = ['euclidean', 'sqeuclidean', 'dot'] as const
type Gen = fc.GeneratorValue

/** A typed array of `values` in one of the layouts the public functions accept. */
function typed<T extends Float32Array | Int32Array>(g: Gen, values: number[], ctor: { new (b: ArrayBufferLike, o: number, n: number): T }): T {
  const layout = g(() => fc.constantFrom('plain', 'offset', 'shared'))
  const n = values.length
  const pad = layout === 'offset' ? g(() => fc.integer({ min: 1, max: 3 })) : 0
  const buffer = layout === 'shared' ? new SharedArrayBuffer((n + pad) * 4) : new ArrayBuffer((n + pad) * 4)
  const view = new ctor(buffer, pad * 4, n)
  view.set(values)
  return view
}

/** A rows × cols matrix of small integers, as an array of rows or a Matrix in any layout. */
export function matrixOf(g: Gen, rows: number, cols: number): unknown {
  const values = g(() => fc.array(fc.integer({ min: -3, max: 3 }), { minLength: rows * cols, maxLength: rows * cols }))
  if (rows > 0 && g(() => fc.boolean())) return Array.from({ length: rows }, (_, r) => values.slice(r * cols, (r + 1) * cols))
  return { data: typed(g, values, Float32Array), rows, cols }
}

export function labelsOf(g: Gen, rows: number, classes: number): unknown {
  const values = g(() => fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: rows, maxLength: rows }))
  return g(() => fc.boolean()) ? values : typed(g, values, Int32Array)
}

const size = (g: Gen, min: number, max: number): number => g(() => fc.integer({ min, max }))

/** A valid call of one public function. */
export function validCase(g: Gen): Case {
  const fn = g(() => fc.constantFrom(
    'pairwiseDistances', 'knn', 'mineTriplets', 'tripletLoss', 'tripletMarginLoss', 'retrievalMetrics', 'contrastiveLoss',
    'multipleNegativesRankingLoss', 'verificationMetrics', 'ladderLoss', 'mineHardNegatives', 'fitLinearAdapter', 'fitOasis',
  ))
  const rows = size(g, 1, 9)
  const cols = size(g, 1, 4)
  const metric = g(() => fc.constantFrom(...METRICS))
  const tol = 1e-4
  switch (fn) {
    case 'pairwiseDistances': {
      const other = g(() => fc.boolean()) ? matrixOf(g, size(g, 1, 7), cols) : null
      return { fn, args: [matrixOf(g, rows, cols), other, { metric, normalize: g(() => fc.boolean()) }], kinds: ['matrix', 'matrix', 'opts'], tol }
    }
    case 'knn': {
      const m = size(g, 1, 9)
      return { fn, args: [matrixOf(g, rows, cols), matrixOf(g, m, cols), { k: size(g, 1, m), metric }], kinds: ['matrix', 'matrix', 'opts'], tol }
    }
    case 'mineTriplets': {
      const strategy = g(() => fc.constantFrom('all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard'))
      const margin = g(() => fc.constantFrom(0, 0.5, 1, 2.5))
      return { fn, args: [matrixOf(g, rows, cols), labelsOf(g, rows, 3), { strategy, margin, metric }], kinds: ['matrix', 'labels', 'opts'], tol }
    }
    case 'tripletLoss': {
      const mining = g(() => fc.constantFrom('batch-hard', 'batch-semihard', 'all', 'semihard'))
      const reduction = g(() => fc.constantFrom('mean', 'sum', 'mean-active'))
      return {
        fn, args: [matrixOf(g, rows, cols), labelsOf(g, rows, 3), { mining, reduction, metric, softMargin: g(() => fc.boolean()), margin: 0.5 }],
        kinds: ['matrix', 'labels', 'opts'], tol,
      }
    }
    case 'tripletMarginLoss': {
      const opts = { margin: g(() => fc.constantFrom(0, 0.2, 1)), swap: g(() => fc.boolean()), reduction: g(() => fc.constantFrom('mean', 'sum', 'none')), metric }
      return { fn, args: [matrixOf(g, rows, cols), matrixOf(g, rows, cols), matrixOf(g, rows, cols), opts], kinds: ['matrix', 'matrix', 'matrix', 'opts'], tol }
    }
    case 'retrievalMetrics':
      return { fn, args: [matrixOf(g, rows, cols), labelsOf(g, rows, 3), { k: size(g, 1, 10), metric }], kinds: ['matrix', 'labels', 'opts'], tol }
    case 'contrastiveLoss':
      return {
        fn, args: [matrixOf(g, rows, cols), labelsOf(g, rows, 3), { posMargin: 0.5, negMargin: 2, metric, reduction: g(() => fc.constantFrom('mean', 'sum')) }],
        kinds: ['matrix', 'labels', 'opts'], tol,
      }
    case 'multipleNegativesRankingLoss':
      return {
        fn, args: [matrixOf(g, rows, cols), matrixOf(g, rows, cols), { similarity: 'dot', scale: 0.5, symmetric: g(() => fc.boolean()) }],
        kinds: ['matrix', 'matrix', 'opts'], tol,
      }
    case 'verificationMetrics': {
      const flags = g(() => fc.array(fc.boolean(), { minLength: rows + 1, maxLength: rows + 1 }))
      flags[0] = true
      flags[1] = false
      return { fn, args: [matrixOf(g, rows + 1, cols), matrixOf(g, rows + 1, cols), flags, { metric }], kinds: ['matrix', 'matrix', 'flags', 'opts'], tol }
    }
    case 'ladderLoss': {
      const m = size(g, 1, 6)
      const relevance = { data: new Float32Array(rows * m).map((_, i) => (i * 7) % 3), rows, cols: m }
      return {
        fn, args: [matrixOf(g, rows, cols), matrixOf(g, m, cols), relevance, { thresholds: [2, 1], margins: [0.5, 0.25], similarity: 'dot' }],
        kinds: ['matrix', 'matrix', 'matrix', 'opts'], tol,
      }
    }
    case 'mineHardNegatives': {
      const m = size(g, 1, 9)
      const positives = g(() => fc.array(fc.integer({ min: 0, max: m - 1 }), { minLength: rows, maxLength: rows }))
      return {
        fn, args: [matrixOf(g, rows, cols), matrixOf(g, m, cols), positives, { numNegatives: size(g, 1, 3), similarity: 'dot' }],
        kinds: ['matrix', 'matrix', 'indices', 'opts'], tol,
      }
    }
    case 'fitLinearAdapter': {
      // Two classes of two rows at least, so that a step can sample a triplet.
      const labels = Array.from({ length: rows + 4 }, (_, i) => i % 2)
      // Training steps turn float rounding into different active triplets: only its shape and
      // finiteness are compared across devices (adapters.spec compares it on designed data).
      return { fn, args: [matrixOf(g, rows + 4, cols), labels, { epochs: 1, batchSize: 8, metric: 'sqeuclidean' }], kinds: ['matrix', 'labels', 'opts'], tol: Infinity }
    }
    default: {
      const labels = Array.from({ length: rows + 3 }, (_, i) => i % 2)
      return { fn: 'fitOasis', args: [matrixOf(g, rows + 3, cols), labels, { steps: size(g, 0, 20), seed: size(g, 0, 9) }], kinds: ['matrix', 'labels', 'opts'], tol: 1e-3 }
    }
  }
}

/** The args of `c` with the options' `device` set. */
export function onDevice(c: Case, device: string, extra: object = {}): unknown[] {
  const at = c.kinds.indexOf('opts')
  return c.args.map((a, i) => (i === at ? { ...(a as object), device, ...extra } : a))
}

/** A detached Float32Array of `n` elements. */
function detached(n: number): Float32Array {
  const a = new Float32Array(n)
  structuredClone(a.buffer, { transfer: [a.buffer] })
  return a
}

/** Breaks one argument of a valid call, in a way every function must refuse. */
export function breakCase(g: Gen, c: Case): { args: unknown[]; how: string } {
  const args = onDevice(c, g(() => fc.constantFrom('cpu', 'js')))
  const at = g(() => fc.integer({ min: 0, max: args.length - 1 }))
  const kind = c.kinds[at]
  const original = args[at]
  const m = original as { data: Float32Array; rows: number; cols: number }
  const ways: Record<Kind, Array<[string, () => unknown]>> = {
    matrix: [
      ['a string', () => 'abc'], ['a number', () => 42], ['an empty object', () => ({})], ['a bigint', () => 10n],
      ['ragged rows', () => [[1, 2], [3]]], ['a row of strings', () => [['1', '2']]],
      ['rows that lie', () => (Array.isArray(original) ? [...original, [...(original[0] as number[]), 0]] : { ...m, rows: m.rows + 1 })],
      ['huge dimensions', () => ({ data: new Float32Array(4), rows: 2 ** 40, cols: 2 ** 31 })],
      ['negative rows', () => ({ data: new Float32Array(4), rows: -2, cols: -2 })],
      ['fractional cols', () => ({ data: new Float32Array(4), rows: 2, cols: 2.5 })],
      ['NaN inside', () => (Array.isArray(original) ? [[NaN, ...(original[0] as number[]).slice(1)], ...original.slice(1)] : withValue(m, NaN))],
      ['Infinity inside', () => (Array.isArray(original) ? [[-Infinity, ...(original[0] as number[]).slice(1)], ...original.slice(1)] : withValue(m, Infinity))],
      ['a float64 array', () => ({ data: new Float64Array(4), rows: 2, cols: 2 })],
      ['a detached buffer', () => ({ data: detached(4), rows: 2, cols: 2 })],
      ['a length that lies', () => ({ data: Object.defineProperty(new Float32Array(3), 'length', { value: 4 }), rows: 2, cols: 2 })],
      ['a Proxy posing as a Float32Array', () => ({ data: new Proxy(new Float32Array(4), {}), rows: 2, cols: 2 })],
    ],
    labels: [
      ['no labels', () => []], ['a fractional label', () => [0.5, ...Array(99).fill(0)]], ['a string', () => 'labels'],
      ['a NaN label', () => Array(99).fill(NaN)], ['a label past int32', () => Array(99).fill(2 ** 40)], ['null', () => null],
      ['a detached Int32Array', () => { const a = new Int32Array(2); structuredClone(a.buffer, { transfer: [a.buffer] }); return a }],
    ],
    indices: [['an index out of range', () => Array(99).fill(10 ** 6)], ['a negative index', () => Array(99).fill(-1)], ['a string', () => 'idx']],
    flags: [['a flag that is a string', () => Array(99).fill('yes')], ['too few flags', () => [true]]],
    opts: [
      ['an unknown option', () => ({ ...(original as object), margn: 0.5 })],
      ['a device that does not exist', () => ({ ...(original as object), device: 'gpu' })],
      ['a signal that is not one', () => ({ ...(original as object), signal: 'stop' })],
      ['an array', () => [1, 2]],
      ['an option getter that writes NaN into the first matrix', () => {
        const first = args[0] as { data?: Float32Array } | number[][]
        return Object.defineProperty({ ...(original as object) }, 'device', {
          enumerable: true,
          get: () => {
            if (Array.isArray(first)) first[0][0] = NaN
            else if (first.data instanceof Float32Array) first.data[0] = NaN
            return 'cpu'
          },
        })
      }],
    ],
  }
  // Bad values of the options this call has.
  const opts = (kind === 'opts' ? original : {}) as Record<string, unknown>
  const bad: Record<string, unknown[]> = {
    k: [0, -1, 1.5, NaN, '3'], margin: [NaN, Infinity, '0.2'], metric: ['manhattan', 1], strategy: ['hardest', null],
    mining: ['hardest', { anchor: [0], positive: [0], negative: [1] }, { anchor: [0], positive: [10 ** 6], negative: [1] }],
    reduction: ['max'], numNegatives: [0, 2.5], steps: [-1, 0.5], epochs: [-1], scale: [NaN], similarity: ['euclidean'],
    thresholds: [[], [1, 2], [NaN]], normalize: ['yes'], softMargin: [1], swap: ['true'], posMargin: [Infinity],
  }
  for (const [key, values] of Object.entries(bad)) {
    if (key in opts) for (const v of values) ways.opts.push([`opts.${key} = ${JSON.stringify(v)}`, () => ({ ...opts, [key]: v })])
  }
  const [how, make] = g(() => fc.constantFrom(...ways[kind]))
  // An absent optional matrix (pairwiseDistances' b) has nothing to edit: replace it.
  args[at] = original === null && kind === 'matrix' ? 'abc' : make()
  return { args, how: `${c.fn}: argument ${at} (${kind}): ${how}` }
}

function withValue(m: { data: Float32Array; rows: number; cols: number }, v: number): unknown {
  const data = Float32Array.from(m.data)
  data[data.length - 1] = v
  return { data, rows: m.rows, cols: m.cols }
}
