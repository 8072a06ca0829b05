// ladderLoss: hand-worked rungs on every device, finite-difference gradients, cpu against js on
// odd sizes, errors, async and abort.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose, assertClose } from './helpers/compare'
import { flat, gaussianRows } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { numericGrad } from './helpers/fd'
import { Rng } from './helpers/prng'

// q = (1, 0); candidates (1, 0), (0.5, 0), (0, 0) with relevance 1, 0.5, 0: dot similarities
// 1, 0.5, 0. Rungs θ = (0.75, 0.25), α = (0.8, 0.7).
const Q = [[1, 0]]
const C = [[1, 0], [0.5, 0], [0, 0]]
const R = [[1, 0.5, 0]]
const RUNGS = { thresholds: [0.75, 0.25], margins: [0.8, 0.7], similarity: 'dot' as const }

for (const device of DEVICES) {
  test(`[${device}] hand-worked: hardest pairs and all pairs`, (t) => {
    // Hardest: rung 1 [0.8 − 1 + 0.5]₊ = 0.3, rung 2 [0.7 − 0.5 + 0]₊ = 0.2 → 0.5, and
    // ∂/∂q = −c0 + c1 − c1 + c2 = (−1, 0). All pairs: rung 1 mean(0.3, 0) = 0.15, rung 2
    // mean(0, 0.2) = 0.1 → 0.25. Weights (2, 1) double rung 1: 0.8.
    const hard = tk.ladderLossSync(Q, C, R, { ...RUNGS, device })
    assertClose(t, hard.loss, 0.5, { rel: 1e-6, abs: 1e-7 }, 'hardest')
    assertAllClose(t, hard.grad.queries.data, [-1, 0], { rel: 1e-6, abs: 1e-6 }, '∂queries')
    // ∂/∂c0 = −q, ∂/∂c1 = +q (rung 1) − q (rung 2) = 0, ∂/∂c2 = +q.
    assertAllClose(t, hard.grad.candidates.data, [-1, 0, 0, 0, 1, 0], { rel: 1e-6, abs: 1e-6 }, '∂candidates')
    assertClose(t, tk.ladderLossSync(Q, C, R, { ...RUNGS, hardest: false, device }).loss, 0.25, { rel: 1e-6, abs: 1e-7 }, 'all pairs')
    assertClose(t, tk.ladderLossSync(Q, C, R, { ...RUNGS, weights: [2, 1], device }).loss, 0.8, { rel: 1e-6, abs: 1e-7 }, 'weights')
  })

  test(`[${device}] a query with one side of a rung empty adds 0 and still counts in the mean`, (t) => {
    // Query 2 sees relevance 1 everywhere: no candidate below any rung. Mean over 2 queries.
    const one = tk.ladderLossSync(Q, C, R, { ...RUNGS, device }).loss
    const two = tk.ladderLossSync([Q[0], [0, 1]], C, [R[0], [1, 1, 1]], { ...RUNGS, device }).loss
    assertClose(t, two, one / 2, { rel: 1e-6, abs: 1e-7 }, 'mean over queries')
  })

  for (const similarity of ['cosine', 'dot'] as const) {
    for (const hardest of [true, false]) {
      test(`[${device}] ${similarity}, hardest ${hardest}: finite-difference gradients`, (t) => {
        const rng = new Rng(hardest ? 3 : 4)
        const q = gaussianRows(rng, 3, 4)
        const c = gaussianRows(rng, 6, 4)
        const r = Array.from({ length: 3 }, (_, i) => Array.from({ length: 6 }, (_, j) => ((i * 5 + j * 3) % 4) / 3))
        const o = { thresholds: [0.9, 0.5, 0.1], margins: [1, 0.8, 0.5], weights: [1, 0.5, 2], hardest, similarity, device }
        const res = tk.ladderLossSync(q, c, r, o)
        t.true(res.loss > 0, 'some rung is active')
        const tol = { rel: 2e-2, abs: 2e-3 }
        assertAllClose(t, res.grad.queries.data, numericGrad((v) => tk.ladderLossSync(tk.matrix(v, 3, 4), c, r, o).loss, flat(q)), tol, '∂queries')
        assertAllClose(t, res.grad.candidates.data, numericGrad((v) => tk.ladderLossSync(q, tk.matrix(v, 6, 4), r, o).loss, flat(c)), tol, '∂candidates')
      })
    }
  }

  test(`[${device}] async twin, abort, and bad input`, async (t) => {
    t.deepEqual(await tk.ladderLoss(Q, C, R, { ...RUNGS, device }), tk.ladderLossSync(Q, C, R, { ...RUNGS, device }))
    const err = await tk.ladderLoss(Q, C, R, { ...RUNGS, device, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e)
    t.true(err instanceof DOMException && err.name === 'AbortError')
    const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => tk.ladderLossSync(Q, C, [[1, 0.5]], { ...RUNGS, device }), RangeError, /^relevance: expected 1 × 3/],
      [() => tk.ladderLossSync(Q, C, R, { ...RUNGS, thresholds: [0.2, 0.5], device }), RangeError, /^opts\.thresholds\[1\]: expected less than/],
      [() => tk.ladderLossSync(Q, C, R, { ...RUNGS, margins: [0.1], device }), RangeError, /^opts\.margins: expected 2 numbers/],
      [() => tk.ladderLossSync(Q, C, R, { ...RUNGS, weights: [1, NaN], device }), RangeError, /^opts\.weights\[1\]: expected a finite number/],
      [() => tk.ladderLossSync(Q, C, R, { ...RUNGS, thresholds: [], device }), RangeError, /^opts\.thresholds: expected at least one/],
      [() => tk.ladderLossSync(Q, C, R, undefined as never), TypeError, /^opts: expected an options object/],
      [() => tk.ladderLossSync(Q, [[1, 2, 3]], R, { ...RUNGS, device }), RangeError, /^candidates: expected 2 columns/],
    ]
    for (const [f, kind, message] of bad) {
      const e = t.throws(f)
      t.is(e?.constructor, kind, e?.message)
      t.regex(e?.message ?? '', message)
    }
  })
}

test('cpu and js agree on odd sizes', (t) => {
  const rng = new Rng(71)
  for (const [nq, nc, d] of [[1, 2, 1], [7, 13, 5], [33, 65, 32]]) {
    const q = gaussianRows(rng, nq, d)
    const c = gaussianRows(rng, nc, d)
    const r = Array.from({ length: nq }, () => Array.from({ length: nc }, () => Math.fround(rng.uniform(0, 1))))
    for (const similarity of ['cosine', 'dot'] as const) {
      for (const hardest of [true, false]) {
        const o = { thresholds: [0.7, 0.3], margins: [0.5, 0.2], hardest, similarity }
        const [a, b] = [tk.ladderLossSync(q, c, r, { ...o, device: 'cpu' }), tk.ladderLossSync(q, c, r, { ...o, device: 'js' })]
        assertClose(t, a.loss, b.loss, { rel: 1e-5, abs: 1e-6 }, `${nq}×${nc}×${d} ${similarity} ${hardest}`)
        assertAllClose(t, a.grad.queries.data, b.grad.queries.data, { rel: 1e-3, abs: 1e-5 }, 'queries')
        assertAllClose(t, a.grad.candidates.data, b.grad.candidates.data, { rel: 1e-3, abs: 1e-5 }, 'candidates')
      }
    }
  }
})
