import test from 'ava'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { knnSync, pairwiseDistancesSync } from '../index'
import { DEVICES } from './helpers/devices'
import { assertAllClose, close, distScale, distTol, knnProblems } from './helpers/compare'
import { duplicateSome, gaussianRows } from './helpers/data'
import { METRICS, knn as oracleKnn, pairwise as oraclePairwise } from './helpers/oracle'
import { Rng } from './helpers/prng'

const EXACT = { rel: 1e-6, abs: 1e-6 }

// 1-D corpus c = [0, 1, 3, 4, 6].
// Query 2: distances 2, 1, 1, 2, 4 → ascending with ties to the lower index: 1 (1), 2 (1), 0 (2), 3 (2), 4 (4).
const CORPUS = [[0], [1], [3], [4], [6]]

for (const device of DEVICES) {
  test(`[${device}] hand-worked: ties go to the lower corpus index`, (t) => {
    const r = knnSync([[2]], CORPUS, { k: 4, device })
    t.is(r.rows, 1)
    t.is(r.k, 4)
    t.true(r.indices instanceof Int32Array)
    t.true(r.distances instanceof Float32Array)
    t.deepEqual(Array.from(r.indices), [1, 2, 0, 3])
    t.deepEqual(Array.from(r.distances), [1, 1, 2, 2])
    const all = knnSync([[2]], CORPUS, { k: 5, device })
    t.deepEqual(Array.from(all.indices), [1, 2, 0, 3, 4])
    // sqeuclidean: 4, 1, 1, 4, 16
    const sq = knnSync([[2]], CORPUS, { k: 3, metric: 'sqeuclidean', device })
    t.deepEqual(Array.from(sq.indices), [1, 2, 0])
    t.deepEqual(Array.from(sq.distances), [1, 1, 4])
  })

  test(`[${device}] hand-worked: excludeSelf on a set searched against itself`, (t) => {
    // Self-search of c, k = 2, never returning i for query i:
    //   q0 (0): 1 (d 1), 2 (d 3)     q1 (1): 0 (1), 2 (2)     q2 (3): 3 (1), 1 (2)
    //   q3 (4): 2 (1), 4 (2)         q4 (6): 3 (2), 2 (3)
    const r = knnSync(CORPUS, CORPUS, { k: 2, excludeSelf: true, device })
    t.is(r.rows, 5)
    t.deepEqual(Array.from(r.indices), [1, 2, 0, 2, 3, 1, 2, 4, 3, 2])
    t.deepEqual(Array.from(r.distances), [1, 3, 1, 2, 1, 2, 1, 2, 2, 3])
    // Without excludeSelf each point is its own nearest neighbour, at distance 0.
    const s = knnSync(CORPUS, CORPUS, { k: 1, device })
    t.deepEqual(Array.from(s.indices), [0, 1, 2, 3, 4])
    t.deepEqual(Array.from(s.distances), [0, 0, 0, 0, 0])
    // excludeSelf with k = corpus − 1 returns everything else.
    const e = knnSync(CORPUS, CORPUS, { k: 4, excludeSelf: true, device })
    t.deepEqual(Array.from(e.indices.subarray(0, 4)), [1, 2, 3, 4])
    t.deepEqual(Array.from(e.indices.subarray(8, 12)), [3, 1, 0, 4]) // q2 (3): d 1, 2, 3, 3 → 3, 1, then 0 (3) before 4 (3)
  })

  test(`[${device}] hand-worked: excludeSelf with batches still excludes the global index`, (t) => {
    const r = knnSync(CORPUS, CORPUS, { k: 2, excludeSelf: true, batchSize: 2, device })
    t.deepEqual(Array.from(r.indices), [1, 2, 0, 2, 3, 1, 2, 4, 3, 2])
    const one = knnSync(CORPUS, CORPUS, { k: 2, excludeSelf: true, batchSize: 1, device })
    t.deepEqual(Array.from(one.indices), [1, 2, 0, 2, 3, 1, 2, 4, 3, 2])
  })

  test(`[${device}] hand-worked: cosine and dot`, (t) => {
    // query (1, 0); corpus (0, 1), (2, 0), (−1, 0), (1, 1), (0, 0)
    //   cosine: 1, 0, 2, 1 − 1/√2, 1 (zero vector) → 1 (0), 3 (0.293), 0 (1), 4 (1), 2 (2)
    //   dot:    0, −2, 1, −1, 0                     → 1 (−2), 3 (−1), 0 (0), 4 (0), 2 (1)
    const corpus = [[0, 1], [2, 0], [-1, 0], [1, 1], [0, 0]]
    const c = knnSync([[1, 0]], corpus, { k: 5, metric: 'cosine', device })
    t.deepEqual(Array.from(c.indices), [1, 3, 0, 4, 2])
    assertAllClose(t, c.distances, [0, 1 - Math.SQRT1_2, 1, 1, 2], EXACT, 'cosine')
    const d = knnSync([[1, 0]], corpus, { k: 5, metric: 'dot', device })
    t.deepEqual(Array.from(d.indices), [1, 3, 0, 4, 2])
    assertAllClose(t, d.distances, [-2, -1, 0, 0, 1], EXACT, 'dot')
    // normalize + euclidean: √(2·cosine distance) between unit vectors, but the zero row stays
    // zero, at distance 1: 1 (0), 3 (√(2 − √2)), 4 (1), 0 (√2), 2 (2)
    const n = knnSync([[1, 0]], corpus, { k: 5, metric: 'euclidean', normalize: true, device })
    t.deepEqual(Array.from(n.indices), [1, 3, 4, 0, 2])
    assertAllClose(t, n.distances, [0, Math.sqrt(2 - Math.SQRT2), 1, Math.SQRT2, 2], EXACT, 'normalized euclidean')
  })

  test(`[${device}] duplicated corpus rows: exact ties, lower index first`, (t) => {
    const r = knnSync([[1, 1]], [[5, 5], [1, 1], [0, 0], [1, 1], [1, 1]], { k: 4, device })
    t.deepEqual(Array.from(r.indices), [1, 3, 4, 2])
    t.deepEqual(Array.from(r.distances.subarray(0, 3)), [0, 0, 0])
  })

  test(`[${device}] distances are the pairwiseDistances entries, and batchSize does not change the answer`, (t) => {
    const rng = new Rng(21)
    const q = gaussianRows(rng, 23, 7)
    const c = gaussianRows(rng, 31, 7)
    for (const metric of METRICS) {
      const D = pairwiseDistancesSync(q, c, { metric, device }).data
      const base = knnSync(q, c, { k: 6, metric, device })
      const want = Array.from(base.indices, (j, pos) => D[Math.floor(pos / 6) * 31 + j])
      assertAllClose(t, base.distances, want, distTol(distScale(metric, false, q, c)), `${metric} distances`)
      const oracleD = oraclePairwise(q, c, { metric })
      for (const batchSize of [1, 5, 23, 1000]) {
        const r = knnSync(q, c, { k: 6, metric, device, batchSize })
        t.deepEqual(knnProblems(r.indices, base.indices, oracleD, 6, distTol(distScale(metric, false, q, c))), [], `${metric} batchSize ${batchSize}`)
      }
    }
  })
}

// With dot, d = −a·b is +0 or −0 depending on signs and on the GEMM path: the same distance, so a
// tie, lower index first. 17 rows of 1-D integers, zeros among them.
const SIGNED = [-1, -1, -2, 1, -1, 2, -1, -1, -2, 0, 0, 1, 0, -2, 1, -2, 1].map((v) => [v])
for (const device of DEVICES) {
  test(`[${device}] dot: +0 and −0 distances tie (lower index first)`, (t) => {
    const r = knnSync(SIGNED, SIGNED, { k: 17, metric: 'dot', device })
    // a zero row is at distance 0 from everything: its neighbours are 0, 1, …, 16
    t.deepEqual(Array.from(r.indices.subarray(9 * 17, 10 * 17)), Array.from({ length: 17 }, (_, i) => i))
    const want = oracleKnn(SIGNED, SIGNED, { k: 17, metric: 'dot' })
    t.deepEqual(Array.from(r.indices), want.indices.flat())
  })
}

// Property: both devices against the float64 oracle on awkward sizes. Indices must match except
// where the oracle distances of the two candidates are within tolerance (a near-tie).
const SIZES = [1, 2, 3, 17, 129]
const DIMS = [1, 3, 64, 257]
for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    test(`property: ${metric}${normalize ? ' normalized' : ''}, cpu and js agree with the oracle`, (t) => {
      const rng = new Rng(2000 + METRICS.indexOf(metric) * 2 + (normalize ? 1 : 0))
      for (const rows of SIZES) {
        for (const cols of DIMS) {
          const x = duplicateSome(rng, gaussianRows(rng, rows, cols))
          const q = gaussianRows(rng, 1 + rng.int(9), cols)
          const tol = distTol(distScale(metric, normalize, x, q))
          const cases = [
            { queries: x, excludeSelf: false, ks: [1, Math.min(5, rows), rows] },
            { queries: x, excludeSelf: true, ks: rows > 1 ? [1, rows - 1] : [] },
            { queries: q, excludeSelf: false, ks: [1, Math.min(10, rows)] },
          ]
          for (const { queries, excludeSelf, ks } of cases) {
            for (const k of ks) {
              const want = oracleKnn(queries, x, { k, metric, normalize, excludeSelf })
              const where = `${queries.length}q × ${rows}×${cols}, k=${k}${excludeSelf ? ', excludeSelf' : ''}`
              const got = Object.fromEntries(DEVICES.map((device) => [device, knnSync(queries, x, { k, metric, normalize, excludeSelf, device })]))
              for (const device of DEVICES) {
                const r = got[device]
                t.is(r.indices.length, queries.length * k)
                t.deepEqual(knnProblems(r.indices, want.indices.flat(), want.D, k, tol, excludeSelf), [], `${device} vs oracle, ${where}`)
                // Each returned distance is the distance to the returned index.
                const own = Array.from(r.indices, (j, pos) => want.D[Math.floor(pos / k)][j])
                assertAllClose(t, r.distances, own, tol, `${device} distances, ${where}`)
              }
              t.deepEqual(knnProblems(got.cpu.indices, got.js.indices, want.D, k, tol, excludeSelf), [], `cpu vs js, ${where}`)
            }
          }
        }
      }
    })
  }
}

test('every row is ascending by distance (cpu, larger corpus, several batches)', (t) => {
  const rng = new Rng(22)
  const q = gaussianRows(rng, 300, 16)
  const c = gaussianRows(rng, 2000, 16)
  const r = knnSync(q, c, { k: 20, device: 'cpu', batchSize: 64 })
  let bad = 0
  for (let i = 0; i < 300; i++)
    for (let j = 1; j < 20; j++) {
      const [d0, d1] = [r.distances[i * 20 + j - 1], r.distances[i * 20 + j]]
      if (d1 < d0 || (d1 === d0 && r.indices[i * 20 + j] < r.indices[i * 20 + j - 1])) bad++
    }
  t.is(bad, 0)
  const want = oracleKnn(q.slice(0, 40), c, { k: 20 })
  t.deepEqual(knnProblems(r.indices, want.indices.flat(), want.D, 20, distTol(distScale('euclidean', false, q, c))), [])
  t.true(close(r.distances[0], want.distances[0][0], distTol(10)))
})

test('memory: knn of 20,000 × 20,000, d = 64, k = 10 stays under 300 MB peak RSS (cpu)', (t) => {
  // In a fresh child process, so that the RSS is this call's alone.
  const root = path.resolve(__dirname, '..')
  const script = `
    const { knnSync, backends } = require('./index')
    if (!backends().cpu.available) throw new Error('cpu backend not available')
    const n = 20000, d = 64
    let s = 12345
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) - 0.5
    const q = new Float32Array(n * d).map(rand)
    const c = new Float32Array(n * d).map(rand)
    const before = process.resourceUsage().maxRSS
    const r = knnSync({ data: q, rows: n, cols: d }, { data: c, rows: n, cols: d }, { k: 10, device: 'cpu' })
    if (r.indices.length !== n * 10) throw new Error('wrong result size')
    console.log(JSON.stringify({ before, maxRSS: process.resourceUsage().maxRSS }))
  `
  const child = spawnSync(process.execPath, ['--import=tsx', '-e', script], { cwd: root, encoding: 'utf8', timeout: 240_000 })
  t.is(child.status, 0, `child failed: ${child.stderr}`)
  const { before, maxRSS } = JSON.parse(child.stdout.trim().split('\n').pop()!)
  t.log(`peak RSS ${(maxRSS / 1024).toFixed(0)} MB (before the call ${(before / 1024).toFixed(0)} MB)`)
  t.true(maxRSS < 300 * 1024, `peak RSS ${(maxRSS / 1024).toFixed(0)} MB`)
})
