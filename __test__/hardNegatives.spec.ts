// mineHardNegatives: a brute-force oracle written here from API.md's definition (every corpus
// item scored, ranked, filtered), hand-worked ranks and filters, seeded sampling, batches,
// cpu against js, errors, async and abort.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose } from './helpers/compare'
import { type Rows, gaussianRows, integerRows } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { dotp, norm } from './helpers/oracle'
import { Rng } from './helpers/prng'

interface Filters { rangeMin?: number; rangeMax?: number; absoluteMargin?: number; relativeMargin?: number; maxScore?: number; minScore?: number }

/** Every candidate that passes, in rank order: [corpus index, score][] per query. */
function candidates(q: Rows, c: Rows, positives: number[], sim: 'cosine' | 'dot', f: Filters): [number, number][][] {
  const s = (u: number[], v: number[]) => {
    if (sim === 'dot') return Math.fround(dotp(u, v))
    const nu = norm(u), nv = norm(v)
    return nu === 0 || nv === 0 ? 0 : Math.fround(dotp(u, v) / (nu * nv))
  }
  return q.map((qi, i) => {
    const sp = s(qi, c[positives[i]])
    const ranked = c.map((cj, j) => [j, s(qi, cj)] as [number, number]).filter(([j]) => j !== positives[i])
      .sort((x, y) => y[1] - x[1] || x[0] - y[0])
      .slice(f.rangeMin ?? 0, f.rangeMax ?? 100)
    return ranked.filter(([, v]) => (f.absoluteMargin === undefined || v <= sp - f.absoluteMargin) &&
      (f.relativeMargin === undefined || v <= sp * (1 - f.relativeMargin)) &&
      (f.maxScore === undefined || v <= f.maxScore) && (f.minScore === undefined || v >= f.minScore))
  })
}

for (const device of DEVICES) {
  test(`[${device}] hand-worked: ranks, the positive left out, filters, padding`, (t) => {
    // Query (1); corpus 5, 4, 3, 2, 1 (dot similarity = the value); positive: corpus 1 (s 4).
    const q = [[1]]
    const c = [[5], [4], [3], [2], [1]]
    const run = (o: tk.MineHardNegativesOptions) => {
      const r = tk.mineHardNegativesSync(q, c, [1], { similarity: 'dot', device, ...o })
      return [Array.from(r.negatives), Array.from(r.scores)]
    }
    t.deepEqual(run({ numNegatives: 2 }), [[0, 2], [5, 3]])
    t.deepEqual(run({ numNegatives: 2, rangeMin: 1 }), [[2, 3], [3, 2]])
    t.deepEqual(run({ numNegatives: 2, absoluteMargin: 1.5 }), [[3, 4], [2, 1]]) // s ≤ 4 − 1.5
    t.deepEqual(run({ numNegatives: 2, relativeMargin: 0.5 }), [[3, 4], [2, 1]]) // s ≤ 4 · 0.5
    t.deepEqual(run({ numNegatives: 3, maxScore: 3, minScore: 2 }), [[2, 3, -1], [3, 2, NaN]])
    t.deepEqual(run({ numNegatives: 2, rangeMax: 1 }), [[0, -1], [5, NaN]])
  })

  test(`[${device}] the oracle's top negatives, dot on integers (exact ties, lower index first)`, (t) => {
    const rng = new Rng(81)
    const q = integerRows(rng, 23, 4)
    const c = integerRows(rng, 57, 4)
    const positives = q.map((_, i) => (i * 5) % 57)
    for (const f of [{}, { rangeMin: 3, rangeMax: 20 }, { absoluteMargin: 0.5, minScore: -3 }, { relativeMargin: 0.1, maxScore: 5 }] as Filters[]) {
      const r = tk.mineHardNegativesSync(q, c, positives, { ...f, similarity: 'dot', numNegatives: 4, device, batchSize: 7 })
      const want = candidates(q, c, positives, 'dot', f)
      for (let i = 0; i < q.length; i++) {
        const got = Array.from(r.negatives.subarray(i * 4, i * 4 + 4)).filter((j) => j >= 0)
        t.deepEqual(got, want[i].slice(0, 4).map(([j]) => j), `query ${i} ${JSON.stringify(f)}`)
      }
    }
  })

  test(`[${device}] random sampling: seeded, without repeats, among the candidates, in rank order`, (t) => {
    const rng = new Rng(82)
    const q = gaussianRows(rng, 15, 6)
    const c = gaussianRows(rng, 40, 6)
    const positives = q.map((_, i) => i)
    const o = { numNegatives: 5, rangeMax: 20, sampling: 'random' as const, device }
    const a = tk.mineHardNegativesSync(q, c, positives, { ...o, seed: 7 })
    t.deepEqual(tk.mineHardNegativesSync(q, c, positives, { ...o, seed: 7 }), a)
    t.notDeepEqual(Array.from(tk.mineHardNegativesSync(q, c, positives, { ...o, seed: 8 }).negatives), Array.from(a.negatives))
    const pool = candidates(q, c, positives, 'cosine', { rangeMax: 20 })
    for (let i = 0; i < q.length; i++) {
      const got = Array.from(a.negatives.subarray(i * 5, i * 5 + 5))
      const ranks = got.map((j) => pool[i].findIndex(([k]) => k === j))
      t.true(ranks.every((r) => r >= 0), `query ${i}: every draw is a candidate`)
      t.deepEqual(ranks, [...new Set(ranks)].sort((x, y) => x - y), `query ${i}: no repeats, rank order`)
    }
  })

  test(`[${device}] batches, progress, async twin and abort`, async (t) => {
    const rng = new Rng(83)
    const q = gaussianRows(rng, 30, 5)
    const c = gaussianRows(rng, 30, 5)
    const positives = q.map((_, i) => 29 - i)
    const calls: number[] = []
    const batched = tk.mineHardNegativesSync(q, c, positives, { device, batchSize: 8, onProgress: (done) => calls.push(done) })
    t.deepEqual(calls, [8, 16, 24, 30])
    // Batches change the GEMM's shapes, so scores may differ in the last bit; choices do not.
    const whole = tk.mineHardNegativesSync(q, c, positives, { device })
    t.deepEqual(batched.negatives, whole.negatives)
    assertAllClose(t, batched.scores, whole.scores, { rel: 1e-6, abs: 1e-7 }, 'scores')
    t.deepEqual(await tk.mineHardNegatives(q, c, positives, { device, batchSize: 8 }), batched)
    const err = await tk.mineHardNegatives(q, c, positives, { device, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e)
    t.true(err instanceof DOMException && err.name === 'AbortError')
  })

  test(`[${device}] bad input`, (t) => {
    const x = [[1, 0], [0, 1], [1, 1]]
    const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => tk.mineHardNegativesSync(x, x, [0, 1], { device }), RangeError, /^positives: expected 3 indices/],
      [() => tk.mineHardNegativesSync(x, x, [0, 1, 3], { device }), RangeError, /^positives\[2\]: expected an index from 0 to 2/],
      [() => tk.mineHardNegativesSync(x, x, [0, 1, 2], { rangeMin: 5, rangeMax: 5, device }), RangeError, /^opts\.rangeMax: expected an integer greater than opts\.rangeMin = 5/],
      [() => tk.mineHardNegativesSync(x, x, [0, 1, 2], { numNegatives: 0, device }), RangeError, /^opts\.numNegatives/],
      [() => tk.mineHardNegativesSync(x, x, [0, 1, 2], { sampling: 'all' as never, device }), RangeError, /^opts\.sampling: expected one of 'top', 'random'/],
      [() => tk.mineHardNegativesSync(x, x, [0, 1, 2], { minScore: NaN, device }), RangeError, /^opts\.minScore: expected a finite number/],
      [() => tk.mineHardNegativesSync(x, [[1, 2, 3]], [0, 0, 0], { device }), RangeError, /^queries: expected 3 columns \(the columns of corpus\)/],
    ]
    for (const [f, kind, message] of bad) {
      const e = t.throws(f)
      t.is(e?.constructor, kind, e?.message)
      t.regex(e?.message ?? '', message)
    }
  })
}

test('cpu and js agree (cosine, odd sizes)', (t) => {
  const rng = new Rng(84)
  for (const [nq, nc, d] of [[3, 9, 3], [17, 129, 16]]) {
    const q = gaussianRows(rng, nq, d)
    const c = gaussianRows(rng, nc, d)
    const positives = q.map((_, i) => i % nc)
    const o = { numNegatives: 3, rangeMin: 1, relativeMargin: 0.05 }
    const [a, b] = [tk.mineHardNegativesSync(q, c, positives, { ...o, device: 'cpu' }), tk.mineHardNegativesSync(q, c, positives, { ...o, device: 'js' })]
    t.true(a.negatives.some((j) => j >= 0), 'some negatives pass the filters')
    t.deepEqual(a.negatives, b.negatives)
    assertAllClose(t, a.scores.filter((v) => !Number.isNaN(v)), b.scores.filter((v) => !Number.isNaN(v)), { rel: 1e-5, abs: 1e-6 }, `${nq}×${nc} scores`)
  }
})
