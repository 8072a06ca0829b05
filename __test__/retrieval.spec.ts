import test from 'ava'
import { retrievalMetricsSync } from '../index'
import { DEVICES } from './helpers/devices'
import { assertClose, close, distScale, distTol } from './helpers/compare'
import { LABEL_SCHEMES, duplicateSome, gaussianRows, integerRows, makeLabels } from './helpers/data'
import { METRICS, RETRIEVAL_KEYS, retrieval as oracleRetrieval } from './helpers/oracle'
import { Rng } from './helpers/prng'

const EXACT = { rel: 1e-6, abs: 1e-6 }

// Self-search of x = [0, 1, 10, 11, 2] with labels [0, 0, 1, 1, 1], euclidean.
// Ranked references (self excluded, ties to the lower index), relevance, R:
//   q0 (0):  1 (1) ✓, 4 (2), 2 (10), 3 (11)          R 1: P@1 1, R-prec 1, MAP@R 1, first relevant at rank 1
//   q1 (1):  0 (1) ✓, 4 (1) — tie, 0 first —, 2, 3   R 1: 1, 1, 1, rank 1
//   q2 (10): 3 (1) ✓, 4 (8) ✓, 1 (9), 0 (10)         R 2: 1, 1, 1, rank 1
//   q3 (11): 2 (1) ✓, 4 (9) ✓, 1, 0                  R 2: 1, 1, 1, rank 1
//   q4 (2):  1 (1), 0 (2), 2 (8) ✓, 3 (9) ✓          R 2: P@1 0, R-prec 0, MAP@R 0, first relevant at rank 3
// Means over 5 queries: precisionAt1 = rPrecision = mapAtR = 4/5.
// mrr counts rank ≤ min(max(R_max = 2, k), c = 4): with k = 10 the window is 4, so q4 gives 1/3:
//   mrr = (4 + 1/3)/5; with k = 2 the window is 2: mrr = 4/5.
// k = 10 is clamped to c = 4: recall@4 = 1 everywhere; precision@4 = (1/4 + 1/4 + 2/4 + 2/4 + 2/4)/5 = 0.4.
// k = 2: recall@2 = (1 + 1 + 1 + 1 + 0)/5 = 0.8; precision@2 = (1/2 + 1/2 + 1 + 1 + 0)/5 = 0.6.
const X = [[0], [1], [10], [11], [2]]
const Y = [0, 0, 1, 1, 1]

// A reference set: query 0 (label 0) against references x = 1..5 with labels [0, 1, 0, 0, 1]:
//   ranked 1 ✓, 2, 3 ✓, 4 ✓, 5 → R 3: P@1 1, R-prec 2/3, MAP@R (1 + 2/3)/3 = 5/9, mrr 1
// query 6 (label 1): ranked 5 ✓ (1), 4 (2), 3 (3), 2 ✓ (4), 1 (5) → R 2: P@1 1, R-prec 1/2, MAP@R 1/2, mrr 1
// query 2.5 (label 9): no reference has label 9 → R 0, left out of every mean.
// k = 2: recall 1 and 1; precision@2 1/2 and 1/2.
const REF = [[1], [2], [3], [4], [5]]
const REF_LABELS = [0, 1, 0, 0, 1]

for (const device of DEVICES) {
  test(`[${device}] hand-worked: a set searched against itself (k = 10, clamped)`, (t) => {
    const r = retrievalMetricsSync(X, Y, { device })
    assertClose(t, r.precisionAt1, 0.8, EXACT, 'precisionAt1')
    assertClose(t, r.rPrecision, 0.8, EXACT, 'rPrecision')
    assertClose(t, r.mapAtR, 0.8, EXACT, 'mapAtR')
    assertClose(t, r.mrr, (4 + 1 / 3) / 5, EXACT, 'mrr')
    assertClose(t, r.recallAtK, 1, EXACT, 'recallAtK')
    assertClose(t, r.precisionAtK, 0.4, EXACT, 'precisionAtK')
    t.is(r.queries, 5)
  })

  test(`[${device}] hand-worked: a set searched against itself, k = 2`, (t) => {
    const r = retrievalMetricsSync(X, Y, { k: 2, device })
    assertClose(t, r.precisionAt1, 0.8, EXACT, 'precisionAt1')
    assertClose(t, r.mrr, 0.8, EXACT, 'mrr')
    assertClose(t, r.recallAtK, 0.8, EXACT, 'recallAtK')
    assertClose(t, r.precisionAtK, 0.6, EXACT, 'precisionAtK')
    t.is(r.queries, 5)
  })

  test(`[${device}] hand-worked: queries against a reference set; a query with R = 0 is left out`, (t) => {
    const r = retrievalMetricsSync([[0], [6], [2.5]], [0, 1, 9], { reference: REF, referenceLabels: REF_LABELS, k: 2, device })
    t.is(r.queries, 2)
    assertClose(t, r.precisionAt1, 1, EXACT, 'precisionAt1')
    assertClose(t, r.rPrecision, (2 / 3 + 1 / 2) / 2, EXACT, 'rPrecision')
    assertClose(t, r.mapAtR, (5 / 9 + 1 / 2) / 2, EXACT, 'mapAtR')
    assertClose(t, r.mrr, 1, EXACT, 'mrr')
    assertClose(t, r.recallAtK, 1, EXACT, 'recallAtK')
    assertClose(t, r.precisionAtK, 0.5, EXACT, 'precisionAtK')
  })

  test(`[${device}] no query has a relevant reference: every metric 0, queries 0`, (t) => {
    for (const r of [
      retrievalMetricsSync(X, [1, 2, 3, 4, 5], { device }),
      retrievalMetricsSync([[0]], [0], { device }),
      retrievalMetricsSync([[0], [1]], [7, 7], { reference: REF, referenceLabels: REF_LABELS, device }),
    ]) {
      t.deepEqual(r, { precisionAt1: 0, rPrecision: 0, mapAtR: 0, mrr: 0, recallAtK: 0, precisionAtK: 0, queries: 0 })
    }
  })

  test(`[${device}] cosine and dot rank as their distances say`, (t) => {
    // query (1, 0) label 0; references (0, 3) label 0, (2, 0.1) label 1, (5, 5) label 0.
    //   cosine: (2, 0.1) nearest → P@1 0;  dot: −a·b = 0, −2, −5 → (5, 5) first → P@1 1
    const q = [[1, 0]]
    const opts = { reference: [[0, 3], [2, 0.1], [5, 5]], referenceLabels: [0, 1, 0], device }
    t.is(retrievalMetricsSync(q, [0], { ...opts, metric: 'cosine' }).precisionAt1, 0)
    t.is(retrievalMetricsSync(q, [0], { ...opts, metric: 'dot' }).precisionAt1, 1)
    t.is(retrievalMetricsSync(q, [0], { ...opts, metric: 'euclidean' }).precisionAt1, 0)
  })
}

// Signed zeros: with dot, d = −a·b is +0 or −0 depending on signs and on the GEMM path; the two
// are the same distance, so they tie and the lower index goes first. 17 rows of 1-D integers
// (enough for the GEMM tile path on cpu), zeros among them.
const SIGNED = [-1, -1, -2, 1, -1, 2, -1, -1, -2, 0, 0, 1, 0, -2, 1, -2, 1].map((v) => [v])

for (const device of DEVICES) {
  test(`[${device}] dot with zero rows (±0 distances tie): one class → every metric is 1`, (t) => {
    // Every reference is relevant, so every first result is relevant: all metrics are exactly 1.
    const r = retrievalMetricsSync(SIGNED, SIGNED.map(() => 4), { metric: 'dot', device })
    t.deepEqual(r, { precisionAt1: 1, rPrecision: 1, mapAtR: 1, mrr: 1, recallAtK: 1, precisionAtK: 1, queries: 17 })
  })

  test(`[${device}] dot with zero rows (±0 distances tie): three classes → exactly the oracle`, (t) => {
    const labels = SIGNED.map((_, i) => i % 3)
    const want = oracleRetrieval(SIGNED, labels, { metric: 'dot' })
    const got = retrievalMetricsSync(SIGNED, labels, { metric: 'dot', device })
    for (const key of RETRIEVAL_KEYS) assertClose(t, got[key], want[key], EXACT, key)
    t.is(got.queries, 17)
  })
}

// Property: both devices against the float64 oracle. A query whose ranking has a near-tie between
// a relevant and an irrelevant reference may legitimately rank it either way, which moves a mean
// by at most 1/queries: the allowed difference is (ambiguous queries)/queries.
for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    test(`property: ${metric}${normalize ? ' normalized' : ''}, cpu and js agree with the oracle`, (t) => {
      const rng = new Rng(8000 + METRICS.indexOf(metric) * 2 + (normalize ? 1 : 0))
      let scheme = 0
      for (const rows of [1, 2, 3, 17, 129]) {
        for (const cols of [1, 3, 64, 257]) {
          const integer = scheme % 3 === 0 // small integers: many exact ties, which must be broken by index alike
          const x = duplicateSome(rng, integer ? integerRows(rng, rows, cols, 2) : gaussianRows(rng, rows, cols))
          const labels = makeLabels(rng, rows, LABEL_SCHEMES[scheme++ % LABEL_SCHEMES.length])
          const refRows = 1 + rng.int(40)
          const ref = gaussianRows(rng, refRows, cols)
          const refLabels = makeLabels(rng, refRows, 'few')
          const scale = distScale(metric, normalize, x, ref)
          const tol = distTol(scale)
          const tieTol = (d: number) => 2 * (tol.abs + tol.rel * Math.abs(d))
          for (const k of [1, 3, 10]) {
            for (const withRef of [false, true]) {
              const opts = { k, metric, normalize, ...(withRef ? { reference: ref, referenceLabels: refLabels } : {}) }
              const want = oracleRetrieval(x, labels, { ...opts, tieTol })
              const where = `${rows}×${cols}${integer ? ' (integers)' : ''}, k ${k}, ${withRef ? `against ${refRows} references` : 'self'}`
              const slack = want.queries ? want.ambiguous / want.queries : 0
              for (const device of DEVICES) {
                const got = retrievalMetricsSync(x, labels, { ...opts, device })
                t.is(got.queries, want.queries, `${device} queries, ${where}`)
                for (const key of RETRIEVAL_KEYS)
                  t.true(close(got[key], want[key], { rel: 0, abs: 1e-6 + slack }), `${device} ${key} ${got[key]} vs oracle ${want[key]} (${want.ambiguous} ambiguous), ${where}`)
              }
            }
          }
        }
      }
    })
  }
}
