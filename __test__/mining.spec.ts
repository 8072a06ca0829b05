import test from 'ava'
import { mineTriplets, mineTripletsSync, type Strategy, type Triplets } from '../index'
import { DEVICES } from './helpers/devices'
import { batchProblems, distScale, distTol, isSortedTriplets, setProblems, tripletList } from './helpers/compare'
import { LABEL_SCHEMES, duplicateSome, gaussianRows, makeLabels } from './helpers/data'
import { METRICS, SET_STRATEGIES, mineOn, pairwise as oraclePairwise, type Triplet } from './helpers/oracle'
import { Rng } from './helpers/prng'

function list(tr: Triplets): Triplet[] {
  return tripletList(tr)
}

// Four points on a line, two classes:  x = [0, 2, 4, 7], labels [0, 0, 1, 1].
// Euclidean distances: d01 = 2, d02 = 4, d03 = 7, d12 = 2, d13 = 5, d23 = 3.
// Every valid triplet (a, p, n) and m = d(a,n) − d(a,p):
//   (0,1,2) 4−2 = 2    (0,1,3) 7−2 = 5    (1,0,2) 2−2 = 0    (1,0,3) 5−2 = 3
//   (2,3,0) 4−3 = 1    (2,3,1) 2−3 = −1   (3,2,0) 7−3 = 4    (3,2,1) 5−3 = 2
const X = [[0], [2], [4], [7]]
const Y = [0, 0, 1, 1]
const ALL: Triplet[] = [
  [0, 1, 2], [0, 1, 3], [1, 0, 2], [1, 0, 3],
  [2, 3, 0], [2, 3, 1], [3, 2, 0], [3, 2, 1],
]
const HAND: { margin?: number; strategy: Strategy; want: Triplet[]; why: string }[] = [
  { strategy: 'all', want: ALL, why: 'every valid triplet' },
  // α = 1
  { margin: 1, strategy: 'hard', want: [[1, 0, 2], [2, 3, 1]], why: 'm ≤ 0: m = 0 counts as hard' },
  { margin: 1, strategy: 'semihard', want: [[2, 3, 0]], why: '0 < m ≤ 1: m = α counts' },
  { margin: 1, strategy: 'violating', want: [[1, 0, 2], [2, 3, 0], [2, 3, 1]], why: 'm ≤ 1' },
  { margin: 1, strategy: 'easy', want: [[0, 1, 2], [0, 1, 3], [1, 0, 3], [3, 2, 0], [3, 2, 1]], why: 'm > 1' },
  // α = 2
  { margin: 2, strategy: 'semihard', want: [[0, 1, 2], [2, 3, 0], [3, 2, 1]], why: '0 < m ≤ 2' },
  { margin: 2, strategy: 'violating', want: [[0, 1, 2], [1, 0, 2], [2, 3, 0], [2, 3, 1], [3, 2, 1]], why: 'm ≤ 2' },
  { margin: 2, strategy: 'easy', want: [[0, 1, 3], [1, 0, 3], [3, 2, 0]], why: 'm > 2' },
  // default α = 0.2
  { strategy: 'semihard', want: [], why: 'no m in (0, 0.2]' },
  { strategy: 'violating', want: [[1, 0, 2], [2, 3, 1]], why: 'm ≤ 0.2' },
  { strategy: 'easy', want: [[0, 1, 2], [0, 1, 3], [1, 0, 3], [2, 3, 0], [3, 2, 0], [3, 2, 1]], why: 'm > 0.2' },
  // batch-hard: anchor 0: farthest positive 1, nearest negative 2 (d 4 < 7); anchor 1: p 0, n 2 (2 < 5);
  //             anchor 2: p 3, n 1 (2 < 4); anchor 3: p 2, n 1 (5 < 7)
  { strategy: 'batch-hard', want: [[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]], why: 'hardest positive and negative' },
  // batch-semihard, per (a, p): the nearest negative farther than d(a,p):
  //   (0,1) d=2: negatives 2 (4), 3 (7) → 2     (1,0) d=2: 2 (2, not > 2), 3 (5) → 3
  //   (2,3) d=3: 0 (4), 1 (2) → 0               (3,2) d=3: 0 (7), 1 (5) → 1
  { strategy: 'batch-semihard', want: [[0, 1, 2], [1, 0, 3], [2, 3, 0], [3, 2, 1]], why: 'FaceNet semi-hard' },
]

// Ties: x = [0, 1, −1, 3, −3], labels [0, 0, 0, 1, 1].
//   batch-hard: a0: positives 1, 2 both at 1 → 1; negatives 3, 4 both at 3 → 3.
//               a1 (x=1): p 2 (d 2); n 3 (d 2).  a2 (x=−1): p 1 (2); n 4 (2).
//               a3 (x=3): p 4; negatives 0 (3), 1 (2), 2 (4) → 1.  a4 (x=−3): p 3; n 2 (d 2).
//   batch-semihard: (0,1) d 1: negatives 3 (3), 4 (3) → 3 (tie).  (0,2) → 3.
//               (1,0) d 1: 3 (2), 4 (4) → 3.   (1,2) d 2: 3 (2, not > 2), 4 (4) → 4.
//               (2,0) d 1: 3 (4), 4 (2) → 4.   (2,1) d 2: 3 (4), 4 (2, not > 2) → 3.
//               (3,4) d 6: none farther → the farthest negative, 2 (4).
//               (4,3) d 6: none farther → the farthest, 1 (4).
const XT = [[0], [1], [-1], [3], [-3]]
const YT = [0, 0, 0, 1, 1]
const TIES_BATCH_HARD: Triplet[] = [[0, 1, 3], [1, 2, 3], [2, 1, 4], [3, 4, 1], [4, 3, 2]]
const TIES_BATCH_SEMIHARD: Triplet[] = [[0, 1, 3], [0, 2, 3], [1, 0, 3], [1, 2, 4], [2, 0, 4], [2, 1, 3], [3, 4, 2], [4, 3, 1]]

// The fallback with a tie: x = [0, 10, 1, −1], labels [0, 0, 1, 1].
//   (0,1) d 10: negatives 2 (1), 3 (1): none farther → farthest, tie → 2.   (1,0) d 10: 2 (9), 3 (11) → 3.
//   (2,3) d 2: 0 (1), 1 (9) → 1.   (3,2) d 2: 0 (1), 1 (11) → 1.
//   batch-hard: a0: p 1, n 2 (tie with 3);  a1: p 0, n 2 (9);  a2: p 3, n 0;  a3: p 2, n 0.
const XF = [[0], [10], [1], [-1]]
const YF = [0, 0, 1, 1]

for (const device of DEVICES) {
  for (const { margin, strategy, want, why } of HAND) {
    test(`[${device}] hand-worked ${strategy}${margin === undefined ? ' (default margin)' : `, margin ${margin}`}: ${why}`, (t) => {
      const tr = mineTripletsSync(X, Y, { strategy, margin, device })
      t.true(tr.anchor instanceof Int32Array && tr.positive instanceof Int32Array && tr.negative instanceof Int32Array)
      t.is(tr.length, want.length)
      t.is(tr.anchor.length, want.length)
      t.deepEqual(list(tr), want)
    })
  }

  test(`[${device}] hand-worked: labels may be any int32 values, as Int32Array or array`, (t) => {
    const wide = [-2147483648, -2147483648, 2147483647, 2147483647]
    for (const labels of [wide, Int32Array.from(wide), Int32Array.from(Y)]) {
      t.deepEqual(list(mineTripletsSync(X, labels, { strategy: 'all', device })), ALL)
      t.deepEqual(list(mineTripletsSync(X, labels, { strategy: 'batch-hard', device })), [[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]])
    }
  })

  test(`[${device}] hand-worked sqeuclidean: m uses squared distances`, (t) => {
    // d² : d01 = 4, d02 = 16, d03 = 49, d12 = 4, d13 = 25, d23 = 9.
    // m: (0,1,2) 12, (0,1,3) 45, (1,0,2) 0, (1,0,3) 21, (2,3,0) 7, (2,3,1) −5, (3,2,0) 40, (3,2,1) 16
    const opts = { metric: 'sqeuclidean' as const, device }
    t.deepEqual(list(mineTripletsSync(X, Y, { ...opts, strategy: 'semihard', margin: 1 })), [])
    t.deepEqual(list(mineTripletsSync(X, Y, { ...opts, strategy: 'semihard', margin: 7 })), [[2, 3, 0]])
    t.deepEqual(list(mineTripletsSync(X, Y, { ...opts, strategy: 'violating', margin: 7 })), [[1, 0, 2], [2, 3, 0], [2, 3, 1]])
    t.deepEqual(list(mineTripletsSync(X, Y, { ...opts, strategy: 'easy', margin: 12 })), [[0, 1, 3], [1, 0, 3], [3, 2, 0], [3, 2, 1]])
  })

  test(`[${device}] hand-worked ties: batch-hard and batch-semihard take the lower index`, (t) => {
    t.deepEqual(list(mineTripletsSync(XT, YT, { strategy: 'batch-hard', device })), TIES_BATCH_HARD)
    t.deepEqual(list(mineTripletsSync(XT, YT, { strategy: 'batch-semihard', device })), TIES_BATCH_SEMIHARD)
  })

  test(`[${device}] hand-worked batch-semihard fallback to the farthest negative, with a tie`, (t) => {
    t.deepEqual(list(mineTripletsSync(XF, YF, { strategy: 'batch-semihard', device })), [[0, 1, 2], [1, 0, 3], [2, 3, 1], [3, 2, 1]])
    t.deepEqual(list(mineTripletsSync(XF, YF, { strategy: 'batch-hard', device })), [[0, 1, 2], [1, 0, 2], [2, 3, 0], [3, 2, 0]])
  })

  test(`[${device}] hand-worked: single-member classes anchor nothing`, (t) => {
    // labels [0, 1, 1, 2] on x = [0, 2, 4, 7]: only rows 1 and 2 have a positive.
    //   a1 (x=2): p 2, negatives 0 (2), 3 (5) → 0.   a2 (x=4): p 1, negatives 0 (4), 3 (3) → 3.
    //   batch-semihard: (1,2) d 2: 0 (2, not > 2), 3 (5) → 3.   (2,1) d 2: 0 (4), 3 (3) → 3.
    const labels = [0, 1, 1, 2]
    t.deepEqual(list(mineTripletsSync(X, labels, { strategy: 'all', device })), [[1, 2, 0], [1, 2, 3], [2, 1, 0], [2, 1, 3]])
    t.deepEqual(list(mineTripletsSync(X, labels, { strategy: 'batch-hard', device })), [[1, 2, 0], [2, 1, 3]])
    t.deepEqual(list(mineTripletsSync(X, labels, { strategy: 'batch-semihard', device })), [[1, 2, 3], [2, 1, 3]])
  })

  test(`[${device}] no valid triplet: one class, all distinct, one row → empty Int32Arrays`, (t) => {
    for (const strategy of ['all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard'] as const) {
      for (const [x, labels] of [
        [X, [5, 5, 5, 5]],
        [X, [1, 2, 3, 4]],
        [[[1, 2]], [0]],
      ] as const) {
        const tr = mineTripletsSync(x, labels, { strategy, device })
        t.is(tr.length, 0, strategy)
        t.true(tr.anchor instanceof Int32Array && tr.anchor.length === 0 && tr.positive.length === 0 && tr.negative.length === 0)
      }
    }
  })

  test(`[${device}] maxTriplets: a set strategy refuses with a RangeError rather than exceed it`, (t) => {
    t.is(mineTripletsSync(X, Y, { strategy: 'all', maxTriplets: 8, device }).length, 8)
    t.throws(() => mineTripletsSync(X, Y, { strategy: 'all', maxTriplets: 7, device }), {
      instanceOf: RangeError, code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS',
      message: 'opts.maxTriplets: mining would produce more than 7 triplets; mine smaller batches',
    })
  })

  test(`[${device}] the async twin rejects past maxTriplets with the same coded RangeError`, async (t) => {
    const err = await t.throwsAsync(mineTriplets(X, Y, { strategy: 'all', maxTriplets: 7, device }),
      { instanceOf: RangeError, code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS' })
    t.is((err?.cause as { code?: string } | undefined)?.code, 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS', 'the backend error is the cause')
  })

  test(`[${device}] 'all' yields Σ c(c−1)(n−c) triplets, ascending by (a, p, n)`, (t) => {
    const rng = new Rng(31)
    const x = gaussianRows(rng, 30, 4)
    const labels = makeLabels(rng, 30, 'few')
    const counts = new Map<number, number>()
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1)
    const expected = [...counts.values()].reduce((s, c) => s + c * (c - 1) * (30 - c), 0)
    const tr = list(mineTripletsSync(x, labels, { strategy: 'all', device }))
    t.is(tr.length, expected)
    t.true(isSortedTriplets(tr))
  })
}

// With dot, d = −a·b is +0 or −0 depending on signs and on the GEMM path: the same distance, so
// ties, lower index first. 17 rows of 1-D integers with zeros: every choice is an exact tie or
// clearly apart, so the result must equal the oracle's exactly.
const SIGNED = [-1, -1, -2, 1, -1, 2, -1, -1, -2, 0, 0, 1, 0, -2, 1, -2, 1].map((v) => [v])
for (const device of DEVICES) {
  test(`[${device}] dot: +0 and −0 distances tie in every strategy`, (t) => {
    const labels = SIGNED.map((_, i) => i % 3)
    const D = oraclePairwise(SIGNED, SIGNED, { metric: 'dot' })
    for (const strategy of ['all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard'] as const)
      t.deepEqual(list(mineTripletsSync(SIGNED, labels, { strategy, margin: 1, metric: 'dot', device })), mineOn(D, labels, strategy, 1), strategy)
  })
}

// Property: both devices against the float64 oracle, and against each other. Index choices may
// differ only at near-ties of the oracle distances (set strategies: m near 0 or α).
function marginFor(D: number[][]): number {
  const all = D.flat().filter((v) => v > 0).sort((a, b) => a - b)
  return all.length ? Math.fround(all[all.length >> 1] / 8) : 0.2
}

for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    for (const family of ['batch', 'set'] as const) {
      test(`property: ${family} strategies, ${metric}${normalize ? ' normalized' : ''}, cpu and js agree with the oracle`, (t) => {
        const rng = new Rng(3000 + METRICS.indexOf(metric) * 4 + (normalize ? 2 : 0) + (family === 'set' ? 1 : 0))
        const sizes = family === 'batch' ? [1, 2, 3, 17, 129] : [1, 2, 3, 17, 40]
        const dims = family === 'batch' ? [1, 3, 64, 257] : [1, 3, 64]
        const strategies: Strategy[] = family === 'batch' ? ['batch-hard', 'batch-semihard'] : SET_STRATEGIES
        let scheme = 0
        for (const rows of sizes) {
          for (const cols of dims) {
            const x = duplicateSome(rng, gaussianRows(rng, rows, cols))
            const labels = makeLabels(rng, rows, LABEL_SCHEMES[scheme++ % LABEL_SCHEMES.length])
            const D = oraclePairwise(x, x, { metric, normalize })
            const scale = distScale(metric, normalize, x)
            const tie = distTol(scale)
            const maxD = Math.max(0, ...D.flat().map(Math.abs))
            const tieM = 2 * (tie.abs + tie.rel * maxD)
            for (const strategy of strategies) {
              for (const margin of [undefined, marginFor(D)]) {
                const want = mineOn(D, labels, strategy, margin ?? 0.2)
                const got = Object.fromEntries(DEVICES.map((device) => [device, list(mineTripletsSync(x, labels, { strategy, margin, metric, normalize, device }))]))
                const where = `${strategy}, ${rows}×${cols}, labels ${LABEL_SCHEMES[(scheme - 1) % LABEL_SCHEMES.length]}, margin ${margin ?? 'default'}`
                const problems = (g: Triplet[], w: Triplet[]) =>
                  family === 'batch' ? batchProblems(g, w, D, labels, strategy, tie) : setProblems(g, w, D, strategy, margin ?? 0.2, tieM)
                for (const device of DEVICES) t.deepEqual(problems(got[device], want), [], `${device} vs oracle: ${where}`)
                t.deepEqual(problems(got.cpu, got.js), [], `cpu vs js: ${where}`)
              }
            }
          }
        }
      })
    }
  }
}

// From 4,096 rows a batch mined against itself takes half its distance matrix, each tile
// serving the anchors of its rows and of its columns; under a small maxMemory it goes one
// whole row at a time. Both must give the same triplets, bit for bit, for every metric, with
// classes of up to 31 and up to 127 positives, repeated rows among them.
test('[cpu] batch-semihard over half the matrix mines what whole rows do (4,100 rows)', (t) => {
  const rng = new Rng(4100)
  const rows = 4100
  const x = duplicateSome(rng, gaussianRows(rng, rows, 37))
  for (const classes of [37, 200]) {
    const labels = Array.from({ length: rows }, (_, i) => (i * 7) % classes)
    for (const metric of METRICS) {
      const half = mineTripletsSync(x, labels, { strategy: 'batch-semihard', metric, device: 'cpu' })
      const whole = mineTripletsSync(x, labels, { strategy: 'batch-semihard', metric, device: 'cpu', maxMemory: 4_000_000 })
      t.true(half.length > rows * 10, `${metric}, ${classes} classes: ${half.length} triplets`)
      t.deepEqual(half, whole, `${metric}, ${classes} classes`)
    }
  }
})
