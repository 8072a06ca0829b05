// verificationMetrics: hand-worked cases on every device, a brute-force oracle written here from
// API.md's definitions (every threshold tried; AUC by counting pairs), cpu against js, errors.
import test from 'ava'
import * as tk from '../index'
import { assertClose } from './helpers/compare'
import { type Rows, gaussianRows } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { METRICS, type MetricName, dist, normalizeRows } from './helpers/oracle'
import { Rng } from './helpers/prng'

/** The definitions, by brute force over every threshold and every (same, different) pair. */
function oracle(a: Rows, b: Rows, same: boolean[], far: number, metric: MetricName, normalize: boolean) {
  // Devices keep normalised rows in float32, as they keep every embedding.
  const unit = (m: Rows): Rows => normalizeRows(m).map((r) => r.map(Math.fround))
  const [x, y] = normalize ? [unit(a), unit(b)] : [a, b]
  const d = x.map((r, i) => dist(metric, r, y[i]))
  const pos = d.filter((_, i) => same[i])
  const neg = d.filter((_, i) => !same[i])
  let accuracy = -1
  let threshold = NaN
  let tarAtFar = 0
  // The EER lies where FAR − FRR turns from negative to ≥ 0: between those two thresholds'
  // FARs, and between their FRRs.
  let eerBracket: [number, number] = [0, 1]
  let previous: [number, number] | undefined
  for (const t of [-Infinity, ...[...new Set(d)].sort((u, v) => u - v)]) {
    const tar = pos.filter((v) => v <= t).length / pos.length
    const fa = neg.filter((v) => v <= t).length / neg.length
    const acc = (pos.filter((v) => v <= t).length + neg.filter((v) => v > t).length) / d.length
    if (acc > accuracy) [accuracy, threshold] = [acc, t]
    if (fa <= far) tarAtFar = Math.max(tarAtFar, tar)
    if (previous !== undefined && previous[0] - previous[1] < 0 && fa - (1 - tar) >= 0) {
      eerBracket = [Math.max(previous[0], 1 - tar), Math.min(fa, previous[1])]
    }
    previous = [fa, 1 - tar]
  }
  let wins = 0
  for (const p of pos) for (const n of neg) wins += p < n ? 1 : p === n ? 0.5 : 0
  return { accuracy, threshold, rocAuc: wins / (pos.length * neg.length), tarAtFar, eerBracket }
}

for (const device of DEVICES) {
  test(`[${device}] hand-worked: 3 same pairs at 0.5, 1, 3; 2 different at 2, 4`, (t) => {
    // Best accuracy 4/5 first at t = 1; ROC (0,0) (0,⅓) (0,⅔) (½,⅔) (½,1) (1,1): AUC 5/6;
    // TAR at FAR 0: ⅔; the segment (0,⅔) → (½,⅔) crosses FAR = 1 − TAR at ⅓.
    const a = [[0], [0], [0], [0], [0]]
    const b = [[0.5], [1], [3], [2], [4]]
    const v = tk.verificationMetricsSync(a, b, [true, 1, true, false, 0], { far: 0, device })
    t.deepEqual([v.accuracy, v.threshold], [0.8, 1])
    assertClose(t, v.rocAuc, 5 / 6, { rel: 1e-12, abs: 0 }, 'rocAuc')
    assertClose(t, v.tarAtFar, 2 / 3, { rel: 1e-12, abs: 0 }, 'tarAtFar')
    assertClose(t, v.eer, 1 / 3, { rel: 1e-12, abs: 0 }, 'eer')
  })

  test(`[${device}] same may be any array-like, a plain { length, 0, 1, … } object included`, (t) => {
    const a = [[0], [0], [0], [0], [0]]
    const b = [[0.5], [1], [3], [2], [4]]
    const want = tk.verificationMetricsSync(a, b, [1, 1, 1, 0, 0], { far: 0, device })
    const arrayLike = { length: 5, 0: 1, 1: true, 2: 1, 3: 0, 4: false }
    t.deepEqual(tk.verificationMetricsSync(a, b, arrayLike, { far: 0, device }), want)
    t.deepEqual(tk.verificationMetricsSync(a, b, Uint8Array.of(1, 1, 1, 0, 0), { far: 0, device }), want)
    t.throws(() => tk.verificationMetricsSync(a, b, { length: 4, 0: 1 }, { device }),
      { instanceOf: RangeError, message: /^same: expected 5 flags/ })
    t.throws(() => tk.verificationMetricsSync(a, b, { length: 5, 0: 1 }, { device }),
      { instanceOf: TypeError, message: /^same\[1\]: expected true, false, 1 or 0/ })
  })

  test(`[${device}] ties count one half; predicting no pair the same reports −Infinity`, (t) => {
    const v = tk.verificationMetricsSync([[0], [0]], [[1], [1]], [true, false], { device })
    t.deepEqual(v, { accuracy: 0.5, threshold: -Infinity, rocAuc: 0.5, tarAtFar: 0, eer: 0.5 })
  })

  test(`[${device}] the oracle's metrics on random pairs, every metric`, (t) => {
    const rng = new Rng(61)
    for (const metric of METRICS) {
      for (const normalize of [false, true]) {
        const a = gaussianRows(rng, 41, 5)
        const b = a.map((r) => r.map((v) => Math.fround(v + 0.8 * rng.gauss())))
        const same = a.map((_, i) => i % 3 !== 0)
        // Different pairs: b rows of another pair, further away on average.
        for (let i = 0; i < a.length; i++) if (!same[i]) b[i] = gaussianRows(rng, 1, 5, 2)[0]
        const v = tk.verificationMetricsSync(a, b, same, { far: 0.1, metric, normalize, device })
        const o = oracle(a, b, same, 0.1, metric, normalize)
        for (const key of ['accuracy', 'rocAuc', 'tarAtFar'] as const) assertClose(t, v[key], o[key], { rel: 1e-12, abs: 0 }, `${metric} ${key}`)
        assertClose(t, v.threshold, o.threshold, { rel: 1e-9, abs: 0 }, `${metric} threshold`)
        const [lo, hi] = o.eerBracket
        t.true(v.eer >= lo - 1e-12 && v.eer <= hi + 1e-12, `${metric} eer ${v.eer} outside [${lo}, ${hi}]`)
      }
    }
  })

  test(`[${device}] async twin, abort, and bad input`, async (t) => {
    const a = [[0, 1], [1, 0], [2, 2]]
    const same = [true, false, true]
    t.deepEqual(await tk.verificationMetrics(a, a.slice().reverse(), same, { device }), tk.verificationMetricsSync(a, a.slice().reverse(), same, { device }))
    const err = await tk.verificationMetrics(a, a, same, { device, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e)
    t.true(err instanceof DOMException && err.name === 'AbortError')
    const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => tk.verificationMetricsSync(a, a.slice(1), same, { device }), RangeError, /^b: expected 3 rows/],
      [() => tk.verificationMetricsSync(a, a, [true, false], { device }), RangeError, /^same: expected 3 flags/],
      [() => tk.verificationMetricsSync(a, a, [true, false, 2], { device }), RangeError, /^same\[2\]: expected true, false, 1 or 0, received 2/],
      [() => tk.verificationMetricsSync(a, a, [true, false, 'yes' as never], { device }), TypeError, /^same\[2\]/],
      [() => tk.verificationMetricsSync(a, a, 'ttf' as never, { device }), TypeError, /^same: expected an array/],
      [() => tk.verificationMetricsSync(a, a, [true, true, true], { device }), RangeError, /^same: expected at least one same and one different pair/],
      [() => tk.verificationMetricsSync(a, a, same, { far: 2, device }), RangeError, /^opts\.far: expected a rate from 0 to 1/],
    ]
    for (const [f, kind, message] of bad) {
      const e = t.throws(f)
      t.is(e?.constructor, kind, e?.message)
      t.regex(e?.message ?? '', message)
    }
  })
}

test('cpu and js agree on odd sizes', (t) => {
  const rng = new Rng(62)
  for (const [rows, cols] of [[2, 1], [17, 3], [129, 64]]) {
    const a = gaussianRows(rng, rows, cols)
    const b = gaussianRows(rng, rows, cols)
    const same = a.map((_, i) => i % 2 === 0)
    for (const metric of METRICS) {
      const [c, j] = [tk.verificationMetricsSync(a, b, same, { metric, device: 'cpu' }), tk.verificationMetricsSync(a, b, same, { metric, device: 'js' })]
      for (const key of ['accuracy', 'rocAuc', 'tarAtFar', 'eer', 'threshold'] as const) {
        assertClose(t, c[key], j[key], { rel: 1e-9, abs: 1e-12 }, `${rows}×${cols} ${metric} ${key}`)
      }
    }
  }
})
