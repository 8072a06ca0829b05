// Inputs at the edges of float32 and of memory: large magnitudes whose norms overflow float32,
// exact duplicates under cosine, subnormal rows, huge margins and k, and batch strategies whose
// output would not fit. Both devices must agree and stay finite.
import test from 'ava'
import {
  knnSync,
  matrix,
  mineTripletsSync,
  pairwiseDistancesSync,
  retrievalMetricsSync,
  tripletLossSync,
  tripletMarginLossSync,
} from '../index'
import { DEVICES } from './helpers/devices'

for (const device of DEVICES) {
  test(`[${device}] euclidean distances whose squared norms overflow float32 stay exact`, (t) => {
    // ‖(1e20, 0)‖² = 1e40 is past float32's range; the distances (2e20, 1e20) are not.
    const d = pairwiseDistancesSync([[1e20, 0], [-1e20, 0], [0, 0]], undefined, { device })
    t.is(d.data[1], Math.fround(2e20))
    t.is(d.data[2], Math.fround(1e20))
    const r = knnSync([[1e20, 0]], [[-1e20, 0], [0, 1e20], [1e19, 0]], { k: 3, device })
    t.deepEqual(Array.from(r.indices), [2, 1, 0])
    t.true(Array.from(r.distances).every(Number.isFinite))
  })

  test(`[${device}] euclidean distances between rows near float32 underflow stay exact`, (t) => {
    // ‖(1e-25, 2e-25)‖² = 5e-50 underflows float32; the distances (~1e-25) do not.
    const d = pairwiseDistancesSync(matrix(new Float32Array([1e-25, 2e-25, 0, 0, 4e-25, 1e-25]), 3, 2), undefined, { device })
    const want = [[1, Math.sqrt(5) * 1e-25], [2, Math.sqrt(10) * 1e-25], [5, Math.sqrt(17) * 1e-25]]
    for (const [at, w] of want) t.true(Math.abs(d.data[at] / w - 1) < 1e-6, `${d.data[at]} vs ${w}`)
    const r = knnSync([[1e-25, 0]], [[0, 0], [1.5e-25, 0], [3e-25, 0]], { k: 3, device })
    t.deepEqual(Array.from(r.indices), [1, 0, 2])
  })

  test(`[${device}] dot products that overflow to inf − inf are recomputed`, (t) => {
    // (1e20, 1e20)·(1e20, −1e20) = 0, though each product is past float32's range.
    const d = pairwiseDistancesSync([[1e20, 1e20], [1e20, -1e20]], undefined, { metric: 'dot', device })
    t.true(d.data[1] === 0) // −0 or +0: −a·b of a zero product
  })

  test(`[${device}] cosine: a row and its duplicate are exactly 0 apart, in the loss too`, (t) => {
    // Anchor and positive are duplicates (d = 0); negatives are orthogonal (d = 1): with margin 1
    // every hinge is exactly max(0, 0 − 1 + 1) = 0.
    const r = tripletLossSync([[-1, 1], [-1, -1], [-1, 1], [-1, -1]], [0, 1, 0, 1], { metric: 'cosine', margin: 1, mining: 'all', device })
    t.is(r.loss, 0)
    t.is(r.active, 0)
    t.true(Array.from(r.grad.data).every((g) => g === 0))
  })

  test(`[${device}] gradients stay finite for subnormal rows under cosine`, (t) => {
    const r = tripletLossSync([[1e-40, 1e-40], [1, 0], [1e-40, 0], [0, 1]], [0, 1, 0, 1], { metric: 'cosine', mining: 'all', device })
    t.true(Array.from(r.grad.data).every(Number.isFinite))
    t.true(Number.isFinite(r.loss))
  })

  test(`[${device}] a margin past float32's range keeps the loss finite`, (t) => {
    // d(a,p) = 1, d(a,n) = 2: loss = 1 − 2 + 1e39.
    const r = tripletMarginLossSync([[0]], [[1]], [[2]], { margin: 1e39, device })
    t.is(r.loss, 1e39 - 1)
  })

  test(`[${device}] retrieval k far past the candidates means all of them`, (t) => {
    const r = retrievalMetricsSync([[0], [1], [2], [3]], [0, 1, 0, 1], { k: 2 ** 40, device })
    t.is(r.recallAtK, 1)
    t.is(r.precisionAtK, 1 / 3)
  })

  test(`[${device}] batch strategies refuse output past maxTriplets before mining`, (t) => {
    // 4 anchors, one positive each: 4 triplets for both batch strategies.
    const x = [[0], [1], [3], [6]]
    const y = [0, 0, 1, 1]
    for (const strategy of ['batch-hard', 'batch-semihard'] as const) {
      t.is(mineTripletsSync(x, y, { strategy, maxTriplets: 4, device }).length, 4)
      t.throws(() => mineTripletsSync(x, y, { strategy, maxTriplets: 3, device }), { instanceOf: RangeError, message: /^opts\.maxTriplets: / })
    }
  })
}

test('[cpu] batch-semihard on two large classes is refused, not allocated', (t) => {
  // 66,000 rows in two classes: 66,000 × 32,999 ≈ 2.2e9 triplets, past 2^31 − 1.
  const n = 66_000
  const x = matrix(new Float32Array(n), n, 1)
  const y = Int32Array.from({ length: n }, (_, i) => i % 2)
  t.throws(() => mineTripletsSync(x, y, { strategy: 'batch-semihard', device: 'cpu' }), { instanceOf: RangeError })
})
