import test from 'ava'
import { matrix, pairwiseDistancesSync } from '../index'
import { DEVICES } from './helpers/devices'
import { assertAllClose, distScale, distTol } from './helpers/compare'
import { duplicateSome, gaussianRows } from './helpers/data'
import { METRICS, pairwise as oraclePairwise, type MetricName } from './helpers/oracle'
import { Rng } from './helpers/prng'

const SQRT20 = Math.sqrt(20)
const EXACT = { rel: 1e-6, abs: 1e-6 }

// Three 2-D points: p0 = (3, 4), p1 = (0, 0) (the zero vector), p2 = (1, 0).
//   euclidean:   d(p0,p1) = 5, d(p0,p2) = √(2² + 4²) = √20, d(p1,p2) = 1
//   sqeuclidean: 25, 20, 1
//   cosine:      p1 is zero → 1 to everything, itself included; d(p0,p2) = 1 − 3/5 = 0.4
//   dot:         −a·b: d(p0,p0) = −25, d(p0,p2) = −3, d(p2,p2) = −1, everything with p1 = 0
const P = [
  [3, 4],
  [0, 0],
  [1, 0],
]
const HAND: Record<MetricName, number[][]> = {
  euclidean: [
    [0, 5, SQRT20],
    [5, 0, 1],
    [SQRT20, 1, 0],
  ],
  sqeuclidean: [
    [0, 25, 20],
    [25, 0, 1],
    [20, 1, 0],
  ],
  cosine: [
    [0, 1, 0.4],
    [1, 1, 1],
    [0.4, 1, 0],
  ],
  dot: [
    [-25, 0, -3],
    [0, 0, 0],
    [-3, 0, -1],
  ],
}
// normalize: p0 → (0.6, 0.8), p1 stays (0, 0), p2 → (1, 0).
//   euclidean: d(p0,p1) = 1, d(p0,p2) = √(0.4² + 0.8²) = √0.8, d(p1,p2) = 1
//   dot: d(p0,p0) = −1, d(p0,p2) = −0.6, d(p2,p2) = −1
const HAND_NORMALIZED: Record<MetricName, number[][]> = {
  euclidean: [
    [0, 1, Math.sqrt(0.8)],
    [1, 0, 1],
    [Math.sqrt(0.8), 1, 0],
  ],
  sqeuclidean: [
    [0, 1, 0.8],
    [1, 0, 1],
    [0.8, 1, 0],
  ],
  cosine: HAND.cosine,
  dot: [
    [-1, 0, -0.6],
    [0, 0, 0],
    [-0.6, 0, -1],
  ],
}
// a = (1, 0) against b = [(0, 1), (2, 0), (−1, 0)]
//   euclidean √2, 1, 2; sqeuclidean 2, 1, 4; cosine 1, 0, 2; dot 0, −2, 1
const A = [[1, 0]]
const B = [
  [0, 1],
  [2, 0],
  [-1, 0],
]
const HAND_CROSS: Record<MetricName, number[]> = {
  euclidean: [Math.SQRT2, 1, 2],
  sqeuclidean: [2, 1, 4],
  cosine: [1, 0, 2],
  dot: [0, -2, 1],
}

for (const device of DEVICES) {
  for (const metric of METRICS) {
    test(`[${device}] ${metric}: hand-worked self distances`, (t) => {
      const d = pairwiseDistancesSync(P, undefined, { metric, device })
      t.is(d.rows, 3)
      t.is(d.cols, 3)
      t.true(d.data instanceof Float32Array)
      assertAllClose(t, d.data, HAND[metric].flat(), EXACT, metric)
    })

    test(`[${device}] ${metric}: hand-worked self distances, normalize`, (t) => {
      const d = pairwiseDistancesSync(P, undefined, { metric, normalize: true, device })
      assertAllClose(t, d.data, HAND_NORMALIZED[metric].flat(), EXACT, metric)
    })

    test(`[${device}] ${metric}: hand-worked a against b`, (t) => {
      const d = pairwiseDistancesSync(A, B, { metric, device })
      t.is(d.rows, 1)
      t.is(d.cols, 3)
      assertAllClose(t, d.data, HAND_CROSS[metric], EXACT, metric)
    })
  }

  test(`[${device}] default metric is euclidean`, (t) => {
    const d = pairwiseDistancesSync(P, undefined, { device })
    assertAllClose(t, d.data, HAND.euclidean.flat(), EXACT, 'default')
    const d2 = pairwiseDistancesSync(A, B, { device })
    assertAllClose(t, d2.data, HAND_CROSS.euclidean, EXACT, 'default a/b')
  })

  test(`[${device}] diagonal is exactly 0 and nothing is negative (euclidean, sqeuclidean, cosine)`, (t) => {
    const rng = new Rng(11)
    for (const cols of [1, 3, 64, 257]) {
      const x = gaussianRows(rng, 33, cols, 3)
      x[5] = x[5].map(() => 0) // a zero row: cosine diagonal 1 there
      for (const metric of ['euclidean', 'sqeuclidean', 'cosine'] as const) {
        for (const normalize of [false, true]) {
          const d = pairwiseDistancesSync(x, undefined, { metric, normalize, device })
          for (let i = 0; i < 33; i++) {
            const want = metric === 'cosine' && i === 5 ? 1 : 0
            if (d.data[i * 33 + i] !== want) t.fail(`${metric} normalize=${normalize} cols=${cols}: d[${i},${i}] = ${d.data[i * 33 + i]}`)
          }
          const neg = d.data.findIndex((v) => !(v >= 0))
          t.is(neg, -1, `${metric} normalize=${normalize} cols=${cols}: negative or NaN at ${neg}`)
        }
      }
    }
  })

  test(`[${device}] dot diagonal is −‖x‖²`, (t) => {
    const rng = new Rng(12)
    const x = gaussianRows(rng, 9, 5)
    const d = pairwiseDistancesSync(x, undefined, { metric: 'dot', device })
    assertAllClose(t, Array.from({ length: 9 }, (_, i) => d.data[i * 10]), x.map((r) => -r.reduce((s, v) => s + v * v, 0)), { rel: 1e-5, abs: 1e-6 }, 'diag')
  })

  test(`[${device}] duplicated rows are exactly 0 apart (euclidean, sqeuclidean)`, (t) => {
    const rng = new Rng(13)
    const x = gaussianRows(rng, 40, 64, 5)
    for (let i = 0; i < 10; i++) x[30 + i] = x[i].slice()
    for (const metric of ['euclidean', 'sqeuclidean'] as const) {
      const d = pairwiseDistancesSync(x, undefined, { metric, device })
      for (let i = 0; i < 10; i++) {
        t.is(d.data[i * 40 + 30 + i], 0, `${metric} d(${i}, ${30 + i})`)
        t.is(d.data[(30 + i) * 40 + i], 0, `${metric} d(${30 + i}, ${i})`)
      }
      const dc = pairwiseDistancesSync(x, x.slice(30), { metric, device })
      for (let i = 0; i < 10; i++) t.is(dc.data[i * 10 + i], 0, `${metric} cross d(${i}, dup)`)
    }
  })

  test(`[${device}] a zero vector has cosine distance 1 to everything, never NaN`, (t) => {
    const z = [0, 0, 0]
    const d = pairwiseDistancesSync([z, [1, 2, 3], z], [[0, 0, 0], [-1, 0, 0]], { metric: 'cosine', device })
    // rows z, (1,2,3), z against z, (−1,0,0): only (1,2,3)·(−1,0,0) is a real cosine, 1 + 1/√14
    t.is(d.data.filter((v) => v === 1).length, 5)
    assertAllClose(t, [d.data[3]], [1 + 1 / Math.sqrt(14)], EXACT, 'cosine')
    const dn = pairwiseDistancesSync([z, [1, 2, 3]], undefined, { metric: 'cosine', normalize: true, device })
    t.deepEqual(Array.from(dn.data), [1, 1, 1, 0])
  })

  test(`[${device}] accepts a Matrix, a plain {data, rows, cols} and a Float32Array view with an offset`, (t) => {
    const rng = new Rng(14)
    const x = gaussianRows(rng, 5, 3)
    const fromRows = pairwiseDistancesSync(x, undefined, { device })
    const m = matrix(x)
    t.deepEqual(pairwiseDistancesSync(m, undefined, { device }).data, fromRows.data)
    const plain = { data: new Float32Array(x.flat()), rows: 5, cols: 3 }
    t.deepEqual(pairwiseDistancesSync(plain, undefined, { device }).data, fromRows.data)
    const buffer = new Float32Array(7 + 15)
    buffer.fill(1e6)
    buffer.set(x.flat(), 7)
    const view = matrix(buffer.subarray(7), 5, 3)
    t.deepEqual(pairwiseDistancesSync(view, undefined, { device }).data, fromRows.data)
    const cross = pairwiseDistancesSync(x.slice(0, 2), view, { device })
    t.deepEqual(Array.from(cross.data), Array.from(fromRows.data.slice(0, 10)))
  })
}

// cpu (float32 GEMM) and js (float64) against the float64 oracle, on awkward sizes.
const SIZES = [1, 2, 3, 17, 129]
const DIMS = [1, 3, 64, 257]
for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    test(`property: ${metric}${normalize ? ' normalized' : ''}, cpu and js agree with the float64 oracle`, (t) => {
      const rng = new Rng(1000 + METRICS.indexOf(metric) * 2 + (normalize ? 1 : 0))
      for (const rows of SIZES) {
        for (const cols of DIMS) {
          const x = duplicateSome(rng, gaussianRows(rng, rows, cols))
          if (rows > 2) x[rows - 1] = x[rows - 1].map(() => 0)
          const y = gaussianRows(rng, 1 + rng.int(20), cols)
          const tol = distTol(distScale(metric, normalize, x, y))
          const wantSelf = oraclePairwise(x, undefined, { metric, normalize }).flat()
          const wantCross = oraclePairwise(x, y, { metric, normalize }).flat()
          const js = pairwiseDistancesSync(x, undefined, { metric, normalize, device: 'js' })
          const cpu = pairwiseDistancesSync(x, undefined, { metric, normalize, device: 'cpu' })
          const where = `${rows}×${cols}`
          assertAllClose(t, js.data, wantSelf, tol, `js self ${where}`)
          assertAllClose(t, cpu.data, wantSelf, tol, `cpu self ${where}`)
          assertAllClose(t, cpu.data, js.data, tol, `cpu vs js self ${where}`)
          const jsx = pairwiseDistancesSync(x, y, { metric, normalize, device: 'js' })
          const cpux = pairwiseDistancesSync(x, y, { metric, normalize, device: 'cpu' })
          t.is(cpux.rows, rows)
          t.is(cpux.cols, y.length)
          assertAllClose(t, jsx.data, wantCross, tol, `js cross ${where}`)
          assertAllClose(t, cpux.data, wantCross, tol, `cpu cross ${where}`)
        }
      }
    })
  }
}

test('property: rows far from the origin (shared offset) keep small distances accurate on cpu', (t) => {
  // ‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b cancels catastrophically here; DESIGN.md asks the GEMM path to
  // recompute where the result is tiny compared with the norms.
  const rng = new Rng(77)
  const x = gaussianRows(rng, 50, 64, 0.05).map((r) => r.map((v) => Math.fround(v + 20)))
  for (const metric of ['euclidean', 'sqeuclidean'] as const) {
    const want = oraclePairwise(x, undefined, { metric }).flat()
    for (const device of DEVICES) {
      const got = pairwiseDistancesSync(x, undefined, { metric, device })
      assertAllClose(t, got.data, want, { rel: 1e-3, abs: 1e-6 }, `${device} ${metric}`)
    }
  }
})

test('property: distances are symmetric within tolerance on cpu', (t) => {
  const rng = new Rng(78)
  const x = gaussianRows(rng, 70, 33)
  for (const metric of METRICS) {
    const d = pairwiseDistancesSync(x, undefined, { metric, device: 'cpu' })
    const dt = Array.from({ length: 70 * 70 }, (_, k) => d.data[(k % 70) * 70 + Math.floor(k / 70)])
    assertAllClose(t, d.data, dt, distTol(distScale(metric, false, x)), metric)
  }
})
