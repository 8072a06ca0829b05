// Cross-batch memory: mineTriplets and tripletLoss with `reference` / `referenceLabels`.
// Hand-worked on every device, finite differences (the gradient is the embeddings' only), cpu
// against js, errors.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose, assertClose } from './helpers/compare'
import { flat, gaussianRows, makeLabels } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { numericGrad } from './helpers/fd'
import { Rng } from './helpers/prng'

// Anchors x = [0, 10] (labels 0, 1); the memory r = [1, 3, 9, 12] (labels 0, 1, 1, 0).
// Anchor 0: positives r0 (d 1), r3 (12); negatives r1 (3), r2 (9). Anchor 1: positives r1 (7),
// r2 (1); negatives r0 (9), r3 (2).
const X = [[0], [10]]
const Y = [0, 1]
const MEMORY = { reference: [[1], [3], [9], [12]], referenceLabels: [0, 1, 1, 0] }
const list = (t: tk.Triplets) => Array.from(t.anchor, (a, i) => [a, t.positive[i], t.negative[i]])

for (const device of DEVICES) {
  test(`[${device}] hand-worked: mining draws positives and negatives from the memory`, (t) => {
    const mine = (strategy: tk.Strategy) => list(tk.mineTripletsSync(X, Y, { strategy, margin: 0.5, ...MEMORY, device }))
    t.deepEqual(mine('batch-hard'), [[0, 3, 1], [1, 1, 3]])
    t.deepEqual(mine('batch-semihard'), [[0, 0, 1], [0, 3, 2], [1, 1, 0], [1, 2, 3]])
    t.deepEqual(mine('all'), [[0, 0, 1], [0, 0, 2], [0, 3, 1], [0, 3, 2], [1, 1, 0], [1, 1, 3], [1, 2, 0], [1, 2, 3]])
    // m = d(a,n) − d(a,p) ≤ 0: (0,3,1) −9, (0,3,2) −3, (1,1,3) −5.
    t.deepEqual(mine('hard'), [[0, 3, 1], [0, 3, 2], [1, 1, 3]])
  })

  test(`[${device}] hand-worked: the loss and a gradient for the embeddings only`, (t) => {
    // (0,3,1): 12 − 3 + 0.5 = 9.5; (1,1,3): 7 − 2 + 0.5 = 5.5 → mean 7.5. ∂/∂x0 = −1 + 1 = 0,
    // ∂/∂x1 = 1 + 1 = 2, halved.
    const r = tk.tripletLossSync(X, Y, { margin: 0.5, ...MEMORY, device })
    assertClose(t, r.loss, 7.5, { rel: 1e-9, abs: 1e-9 }, 'loss')
    t.deepEqual([r.grad.rows, r.grad.cols, ...r.grad.data], [2, 1, 0, 1])
    // Given triplets index the memory: (0, 0, 1) is anchor x0, positive r0, negative r1.
    const given = tk.tripletLossSync(X, Y, { margin: 0.5, mining: { anchor: [0], positive: [0], negative: [1] }, ...MEMORY, device })
    assertClose(t, given.loss, 0, { rel: 0, abs: 0 }, '1 − 3 + 0.5 → 0')
  })

  test(`[${device}] finite differences with respect to the embeddings`, (t) => {
    const rng = new Rng(101)
    const x = gaussianRows(rng, 6, 3)
    const y = makeLabels(rng, 6, 'few')
    const memory = { reference: gaussianRows(rng, 9, 3), referenceLabels: makeLabels(rng, 9, 'few') }
    for (const metric of ['euclidean', 'cosine'] as const) {
      const t0 = tk.mineTripletsSync(x, y, { strategy: 'all', ...memory, metric, device })
      t.true(t0.length > 0, 'some triplets')
      const o = { mining: t0, margin: 0.4, metric, ...memory, device }
      const r = tk.tripletLossSync(x, y, o)
      const fd = numericGrad((v) => tk.tripletLossSync(tk.matrix(v, 6, 3), y, o).loss, flat(x))
      assertAllClose(t, r.grad.data, fd, { rel: 2e-2, abs: 2e-3 }, metric)
    }
  })

  test(`[${device}] bad input`, (t) => {
    const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => tk.mineTripletsSync(X, Y, { strategy: 'all', reference: MEMORY.reference, device }), TypeError, /^opts\.referenceLabels: expected it together with opts\.reference/],
      [() => tk.tripletLossSync(X, Y, { referenceLabels: [0], device }), TypeError, /^opts\.reference: expected it together with opts\.referenceLabels/],
      [() => tk.mineTripletsSync(X, Y, { strategy: 'all', reference: [[1, 2]], referenceLabels: [0], device }), RangeError, /^opts\.reference: expected 1 columns/],
      [() => tk.mineTripletsSync(X, Y, { strategy: 'all', ...MEMORY, referenceLabels: [0, 1], device }), RangeError, /^opts\.referenceLabels: expected 4 labels/],
      [() => tk.tripletLossSync(X, Y, { mining: { anchor: [0], positive: [4], negative: [1] }, ...MEMORY, device }), RangeError, /^opts\.mining\.positive\[0\]: expected an index from 0 to 3 \(the rows of opts\.reference: 4\)/],
      [() => tk.tripletLossSync(X, Y, { mining: { anchor: [0], positive: [1], negative: [2] }, ...MEMORY, device }), RangeError, /expected the positive to have the anchor's label 0/],
    ]
    for (const [f, kind, message] of bad) {
      const e = t.throws(f)
      t.is(e?.constructor, kind, e?.message)
      t.regex(e?.message ?? '', message)
    }
  })
}

test('cpu and js agree with a memory, every batch strategy, async too', async (t) => {
  const rng = new Rng(102)
  for (const [n, m, d] of [[1, 3, 2], [17, 65, 8]]) {
    const x = gaussianRows(rng, n, d)
    const y = makeLabels(rng, n, 'few')
    const memory = { reference: gaussianRows(rng, m, d), referenceLabels: makeLabels(rng, m, 'few') }
    for (const strategy of ['batch-hard', 'batch-semihard', 'semihard'] as const) {
      const [c, j] = [tk.mineTripletsSync(x, y, { strategy, ...memory, device: 'cpu' }), tk.mineTripletsSync(x, y, { strategy, ...memory, device: 'js' })]
      t.deepEqual(list(c), list(j), `${n}×${m} ${strategy}`)
      const [lc, lj] = [tk.tripletLossSync(x, y, { mining: strategy, ...memory, device: 'cpu' }), await tk.tripletLoss(x, y, { mining: strategy, ...memory, device: 'js' })]
      assertClose(t, lc.loss, lj.loss, { rel: 1e-5, abs: 1e-6 }, `${strategy} loss`)
      assertAllClose(t, lc.grad.data, lj.grad.data, { rel: 1e-3, abs: 1e-5 }, `${strategy} gradient`)
    }
  }
})
