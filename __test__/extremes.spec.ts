// Inputs at the edges of float32 and of memory: large magnitudes whose norms overflow float32,
// exact duplicates under cosine, subnormal rows, huge margins and k, and batch strategies whose
// output would not fit. Both devices must agree and stay finite.
import test from 'ava'
import {
  contrastiveLossSync,
  knnSync,
  ladderLossSync,
  matrix,
  mineTripletsSync,
  multipleNegativesRankingLossSync,
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

  test(`[${device}] the losses read distances past float32's range in float64`, (t) => {
    // s = a·p times the scale: rows (4, −2) and (2, −1), from products past float32's largest
    // and below its smallest alike.
    const want = (Math.log1p(Math.exp(-6)) + 3 + Math.log1p(Math.exp(-3))) / 2
    for (const [a, p, scale] of [[[[2e19], [1e19]], [[2e19], [-1e19]], 1e-38], [[[2e-23], [1e-23]], [[2e-23], [-1e-23]], 1e46]] as const) {
      const r = multipleNegativesRankingLossSync(a.map((x) => [...x]), p.map((x) => [...x]), { similarity: 'dot', scale, device })
      t.true(Math.abs(r.loss - want) < 1e-6, `${scale}: ${r.loss}`)
    }
    const ladder = ladderLossSync([[2e19]], [[2e19], [1e19]], [[1, 0]], { thresholds: [0.5], margins: [3e38], similarity: 'dot', device })
    t.true(Math.abs(ladder.loss / 1e38 - 1) < 1e-6, `ladder ${ladder.loss}`)
    const large = contrastiveLossSync([[1e19], [-1e19]], [0, 0], { metric: 'sqeuclidean', device })
    t.true(Math.abs(large.loss / 4e38 - 1) < 1e-6, `contrastive ${large.loss}`)
    t.true(Array.from(large.grad.data).every(Number.isFinite))
    const small = contrastiveLossSync([[1e-23], [0]], [0, 0], { metric: 'sqeuclidean', device })
    t.is(small.active, 2)
    t.true(Math.abs(small.grad.data[0] / 2e-23 - 1) < 1e-6 && Math.abs(small.grad.data[1] / -2e-23 - 1) < 1e-6)
  })

  test(`[${device}] ranking at absurd scales: a loss that is a number or +Infinity, finite gradients`, (t) => {
    const a = [[3, -1, 2], [0.5, 4, -2], [-3, 1, 1]]
    const p = [[2, 0, 1], [1, 3, -1], [-2, 2, 0]]
    for (const scale of [1e300, 1e308, -1e308]) {
      for (const similarity of ['dot', 'cosine'] as const) {
        for (const symmetric of [false, true]) {
          const r = multipleNegativesRankingLossSync(a, p, { negatives: a, scale, similarity, symmetric, device })
          const what = `${scale} ${similarity} ${symmetric}`
          t.false(Number.isNaN(r.loss), what)
          t.true(r.loss >= 0, what)
          for (const g of [r.grad.anchors, r.grad.positives]) t.true(Array.from(g.data).every(Number.isFinite), what)
        }
      }
    }
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
