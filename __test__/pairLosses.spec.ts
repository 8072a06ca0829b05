// contrastiveLoss and multipleNegativesRankingLoss: hand-worked cases on every device, a naive
// float64 oracle written here from API.md's definitions, finite-difference gradients, cpu
// against js on odd sizes, errors, async and abort.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose, assertClose } from './helpers/compare'
import { type Rows, flat, gaussianRows, makeLabels } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { numericGrad } from './helpers/fd'
import { METRICS, type MetricName, dist, dotp, norm, normalizeRows } from './helpers/oracle'
import { Rng } from './helpers/prng'

type Reduction = 'mean' | 'sum' | 'mean-active'
const REDUCTIONS: Reduction[] = ['mean', 'sum', 'mean-active']

/** Contrastive loss by API.md's definition, pair by pair. */
function contrastiveOracle(x: Rows, labels: number[], o: { posMargin: number; negMargin: number; reduction: Reduction; metric: MetricName; normalize: boolean }): number {
  const e = o.normalize ? normalizeRows(x) : x
  const pos: number[] = []
  const neg: number[] = []
  for (let i = 0; i < e.length; i++) {
    for (let j = 0; j < e.length; j++) {
      if (i === j) continue
      const d = dist(o.metric, e[i], e[j])
      if (labels[i] === labels[j]) pos.push(Math.max(0, d - o.posMargin))
      else neg.push(Math.max(0, o.negMargin - d))
    }
  }
  const reduce = (l: number[]): number => {
    const s = l.reduce((a, b) => a + b, 0)
    const n = o.reduction === 'sum' ? 1 : o.reduction === 'mean' ? l.length : l.filter((v) => v > 0).length
    return n === 0 ? 0 : s / n
  }
  return reduce(pos) + reduce(neg)
}

/** Multiple negatives ranking loss by API.md's definition. */
function rankingOracle(a: Rows, p: Rows, n: Rows, o: { scale: number; similarity: 'cosine' | 'dot'; symmetric: boolean }): number {
  const sim = (u: number[], v: number[]): number => {
    if (o.similarity === 'dot') return dotp(u, v)
    const nu = norm(u), nv = norm(v)
    return nu === 0 || nv === 0 ? 0 : dotp(u, v) / (nu * nv)
  }
  const direction = (q: Rows, c: Rows): number => {
    let total = 0
    for (let i = 0; i < q.length; i++) {
      const s = c.map((cj) => o.scale * sim(q[i], cj))
      const max = Math.max(...s)
      const lse = max + Math.log(s.reduce((acc, v) => acc + Math.exp(v - max), 0))
      total += lse - s[i]
    }
    return total / q.length
  }
  const forward = direction(a, [...p, ...n])
  return o.symmetric ? (forward + direction(p, a)) / 2 : forward
}

const LINE = [[0], [1], [3], [6]]
const LINE_LABELS = [0, 0, 1, 1]

for (const device of DEVICES) {
  test(`[${device}] contrastiveLoss: hand-worked line`, (t) => {
    // Positive pairs d = 1, 1, 3, 3; negative pairs (negMargin 4) d(0,2) = 3 → 1, d(1,2) = 2 → 2,
    // d(0,3), d(1,3) → 0, each twice. 12 pairs, 8 active.
    const run = (reduction: Reduction) => tk.contrastiveLossSync(LINE, LINE_LABELS, { negMargin: 4, reduction, device })
    const mean = run('mean')
    t.deepEqual([mean.triplets, mean.active], [12, 8])
    assertClose(t, mean.loss, 8 / 4 + 6 / 8, { rel: 1e-9, abs: 1e-9 }, 'mean')
    assertClose(t, run('mean-active').loss, 8 / 4 + 6 / 4, { rel: 1e-9, abs: 1e-9 }, 'mean-active')
    const sum = run('sum')
    assertClose(t, sum.loss, 14, { rel: 1e-9, abs: 1e-9 }, 'sum')
    assertAllClose(t, sum.grad.data, [0, 4, -6, 2], { rel: 1e-6, abs: 1e-6 }, 'sum gradient')
    t.deepEqual([sum.grad.rows, sum.grad.cols], [4, 1])
  })

  test(`[${device}] multipleNegativesRankingLoss: hand-worked, dot, scale 1`, (t) => {
    // a = p = identity rows: row i scores (1, 0) or (0, 1), so each row costs log(1 + 1/e).
    const eye = [[1, 0], [0, 1]]
    const r = tk.multipleNegativesRankingLossSync(eye, eye, { scale: 1, similarity: 'dot', device })
    assertClose(t, r.loss, Math.log(1 + Math.exp(-1)), { rel: 1e-6, abs: 1e-9 }, 'loss')
    const sg = 1 / (1 + Math.exp(-1))
    assertAllClose(t, r.grad.anchors.data, [(sg - 1) / 2, (1 - sg) / 2, (1 - sg) / 2, (sg - 1) / 2], { rel: 1e-5, abs: 1e-7 }, 'anchors')
    t.is(r.grad.negatives, undefined)
  })

  for (const metric of METRICS) {
    for (const normalize of [false, true]) {
      test(`[${device}] contrastiveLoss ${metric}${normalize ? ' normalized' : ''}: the oracle's loss and finite-difference gradients`, (t) => {
        const rng = new Rng(metric.length * 31 + Number(normalize))
        const x = gaussianRows(rng, 9, 4)
        const labels = makeLabels(rng, 9, 'few')
        for (const reduction of REDUCTIONS) {
          const o = { posMargin: 0.1, negMargin: 1.5, reduction, metric, normalize }
          const r = tk.contrastiveLossSync(x, labels, { ...o, device })
          assertClose(t, r.loss, contrastiveOracle(x, labels, o), { rel: 1e-5, abs: 1e-6 }, `${reduction} loss`)
          const f = (v: Float32Array) => tk.contrastiveLossSync(tk.matrix(v, 9, 4), labels, { ...o, device }).loss
          assertAllClose(t, r.grad.data, numericGrad(f, flat(x)), { rel: 2e-2, abs: 2e-3 }, `${reduction} gradient`)
        }
      })
    }
  }

  for (const similarity of ['cosine', 'dot'] as const) {
    for (const [symmetric, negatives] of [[false, 0], [false, 3], [true, 2]] as const) {
      test(`[${device}] multipleNegativesRankingLoss ${similarity}, symmetric ${symmetric}, ${negatives} negatives: oracle and finite differences`, (t) => {
        const rng = new Rng(7 + negatives + Number(symmetric))
        const [a, p, n] = [gaussianRows(rng, 5, 3), gaussianRows(rng, 5, 3), gaussianRows(rng, negatives, 3)]
        const o = { scale: 4, similarity, symmetric }
        const opts = { ...o, device, ...(negatives > 0 ? { negatives: n } : {}) }
        const r = tk.multipleNegativesRankingLossSync(a, p, opts)
        assertClose(t, r.loss, rankingOracle(a, p, n, o), { rel: 1e-5, abs: 1e-6 }, 'loss')
        const run = (av: Rows | tk.Matrix, pv: Rows | tk.Matrix, nv: Rows | tk.Matrix) =>
          tk.multipleNegativesRankingLossSync(av, pv, { ...opts, ...(negatives > 0 ? { negatives: nv } : {}) }).loss
        const tol = { rel: 2e-2, abs: 2e-3 }
        assertAllClose(t, r.grad.anchors.data, numericGrad((v) => run(tk.matrix(v, 5, 3), p, n), flat(a)), tol, 'anchors')
        assertAllClose(t, r.grad.positives.data, numericGrad((v) => run(a, tk.matrix(v, 5, 3), n), flat(p)), tol, 'positives')
        if (negatives > 0) {
          assertAllClose(t, r.grad.negatives!.data, numericGrad((v) => run(a, p, tk.matrix(v, negatives, 3)), flat(n)), tol, 'negatives')
        } else {
          t.is(r.grad.negatives, undefined)
        }
      })
    }
  }

  test(`[${device}] both losses: the Promise resolves to the Sync result; abort and 'cuda' reject`, async (t) => {
    const rng = new Rng(5)
    const x = gaussianRows(rng, 12, 4)
    const labels = makeLabels(rng, 12, 'few')
    t.deepEqual(await tk.contrastiveLoss(x, labels, { device }), tk.contrastiveLossSync(x, labels, { device }))
    t.deepEqual(await tk.multipleNegativesRankingLoss(x, x, { negatives: x, device }), tk.multipleNegativesRankingLossSync(x, x, { negatives: x, device }))
    for (const p of [tk.contrastiveLoss(x, labels, { device, signal: AbortSignal.abort() }),
      tk.multipleNegativesRankingLoss(x, x, { device, signal: AbortSignal.abort() })]) {
      const err = await p.then(() => undefined, (e: unknown) => e)
      t.true(err instanceof DOMException && err.name === 'AbortError', String(err))
    }
    if (!tk.backends().cuda.available) {
      await t.throwsAsync(tk.contrastiveLoss(x, labels, { device: 'cuda' }), { code: 'ERR_TRIPLETKIT_DEVICE_UNAVAILABLE' })
    }
  })

  test(`[${device}] both losses: empty batches`, (t) => {
    const c = tk.contrastiveLossSync([], [], { device })
    t.deepEqual([c.loss, c.triplets, c.active, c.grad.data.length], [0, 0, 0, 0])
    const r = tk.multipleNegativesRankingLossSync([], [], { device, negatives: [[1, 2]] })
    t.is(r.loss, 0)
    t.deepEqual(Array.from(r.grad.negatives!.data), [0, 0])
  })
}

test('cpu and js agree on odd sizes, duplicates and zero rows', (t) => {
  const rng = new Rng(44)
  for (const [rows, cols] of [[1, 3], [17, 5], [33, 64]]) {
    const x = gaussianRows(rng, rows, cols)
    if (rows > 2) x[2] = x[1].slice() // a duplicate: euclidean distance 0
    if (rows > 3) x[3] = x[3].map(() => 0) // a zero row: cosine 1 from everything
    const labels = makeLabels(rng, rows, 'few')
    for (const metric of METRICS) {
      const o = { negMargin: 2, metric, reduction: 'mean-active' as const }
      const [c, j] = [tk.contrastiveLossSync(x, labels, { ...o, device: 'cpu' }), tk.contrastiveLossSync(x, labels, { ...o, device: 'js' })]
      assertClose(t, c.loss, j.loss, { rel: 1e-5, abs: 1e-6 }, `contrastive ${metric} ${rows}×${cols}`)
      t.deepEqual([c.triplets, c.active], [j.triplets, j.active])
      assertAllClose(t, c.grad.data, j.grad.data, { rel: 1e-3, abs: 1e-5 }, `contrastive ${metric} gradient`)
    }
    const n = gaussianRows(rng, 4, cols)
    for (const similarity of ['cosine', 'dot'] as const) {
      const o = { negatives: n, similarity, symmetric: true, scale: similarity === 'dot' ? 1 : 20 }
      const [c, j] = [tk.multipleNegativesRankingLossSync(x, x.slice().reverse(), { ...o, device: 'cpu' }),
        tk.multipleNegativesRankingLossSync(x, x.slice().reverse(), { ...o, device: 'js' })]
      assertClose(t, c.loss, j.loss, { rel: 1e-5, abs: 1e-6 }, `ranking ${similarity} ${rows}×${cols}`)
      for (const side of ['anchors', 'positives', 'negatives'] as const) {
        assertAllClose(t, c.grad[side]!.data, j.grad[side]!.data, { rel: 1e-3, abs: 1e-5 }, `ranking ${similarity} ${side}`)
      }
    }
  }
})

test('bad input is a TypeError or RangeError naming the argument', (t) => {
  const x = [[0, 1], [1, 0], [2, 2]]
  const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
    [() => tk.contrastiveLossSync(x, [0, 1]), RangeError, /^labels: expected 3 labels/],
    [() => tk.contrastiveLossSync(x, [0, 1, 1], { posMargin: NaN }), RangeError, /^opts\.posMargin: expected a finite number/],
    [() => tk.contrastiveLossSync(x, [0, 1, 1], { negMargin: '1' as never }), TypeError, /^opts\.negMargin/],
    [() => tk.contrastiveLossSync(x, [0, 1, 1], { reduction: 'none' as never }), RangeError, /^opts\.reduction: expected one of 'mean', 'sum', 'mean-active'/],
    [() => tk.multipleNegativesRankingLossSync(x, x.slice(1)), RangeError, /^positives: expected 3 rows/],
    [() => tk.multipleNegativesRankingLossSync(x, x, { negatives: [[1, 2, 3]] }), RangeError, /^opts\.negatives: expected 2 columns/],
    [() => tk.multipleNegativesRankingLossSync(x, x, { similarity: 'euclidean' as never }), RangeError, /^opts\.similarity: expected one of 'cosine', 'dot'/],
    [() => tk.multipleNegativesRankingLossSync(x, x, { scale: Infinity }), RangeError, /^opts\.scale: expected a finite number/],
    [() => tk.multipleNegativesRankingLossSync(x, x, { symmetric: 1 as never }), TypeError, /^opts\.symmetric: expected a boolean/],
  ]
  for (const [f, kind, message] of bad) {
    const err = t.throws(f)
    t.is(err?.constructor, kind, err?.message)
    t.regex(err?.message ?? '', message)
  }
})
