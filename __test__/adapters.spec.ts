// fitLinearAdapter and fitOasis: the OASIS step worked by hand, the identity start, both raise
// MAP@R on data whose raw geometry hides the classes, seeded runs repeat (sync = async), errors.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose } from './helpers/compare'
import type { Rows } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { Rng } from './helpers/prng'

/**
 * 4 classes in 8 dimensions: the class shows only in dims 0–1 (small), while dims 2–7 carry
 * large noise, so raw distances and dot products mostly see the noise.
 */
function hidden(rng: Rng, perClass: number): { x: Rows; labels: number[] } {
  const centres = [[1, 0], [-1, 0], [0, 1], [0, -1]]
  const x: Rows = []
  const labels: number[] = []
  for (let c = 0; c < 4; c++) {
    for (let i = 0; i < perClass; i++) {
      x.push([...centres[c].map((v) => Math.fround(v + 0.2 * rng.gauss())), ...Array.from({ length: 6 }, () => Math.fround(3 * rng.gauss()))])
      labels.push(c)
    }
  }
  return { x, labels }
}

test('fitOasis: one passive-aggressive step, worked by hand', (t) => {
  // Rows (1, 0), (0.5, 0), (0, 1), labels 0, 0, 1: the anchor is row 0 or 1, its positive the
  // other, its negative row 2. a = 0: l = 1 − 0.5 + 0 = 0.5, V = (1,0)ᵀ(0.5,−1), ‖V‖² = 1.25,
  // τ = min(0.1, 0.4) → W = [[1.05, −0.1], [0, 1]]. a = 1: V = (0.5,0)ᵀ(1,−1), ‖V‖² = 0.5,
  // τ = 0.1 → W = [[1.05, −0.05], [0, 1]].
  const x = [[1, 0], [0.5, 0], [0, 1]]
  for (let seed = 0; seed < 6; seed++) {
    const w = Array.from(tk.fitOasisSync(x, [0, 0, 1], { steps: 1, c: 0.1, seed, device: seed % 2 === 0 ? 'cpu' : 'js' }).weights.data)
    const ok = [[1.05, -0.1, 0, 1], [1.05, -0.05, 0, 1]].some((want) => want.every((v, i) => Math.abs(v - w[i]) < 1e-6))
    t.true(ok, `seed ${seed}: ${w}`)
  }
})

test('fitOasis: cpu and js draw the same triplets and learn the same W', (t) => {
  const rng = new Rng(93)
  const data = hidden(rng, 10)
  const [c, j] = (['cpu', 'js'] as const).map((device) => tk.fitOasisSync(data.x, data.labels, { steps: 500, seed: 9, device }))
  assertAllClose(t, c.weights.data, j.weights.data, { rel: 1e-6, abs: 1e-7 }, 'weights')
  t.deepEqual(c.history.map((h) => h.step), j.history.map((h) => h.step))
})

test('fitOasis: steps 0 is the identity; similarity and transform follow W', (t) => {
  const x = [[1, 2], [3, 4], [5, 7]]
  const m = tk.fitOasisSync(x, [0, 0, 1], { steps: 0 })
  t.deepEqual(Array.from(m.weights.data), [1, 0, 0, 1])
  t.deepEqual(Array.from(m.transform(x).data), [1, 2, 3, 4, 5, 7])
  t.deepEqual(Array.from(m.similarity([[1, 1]], x).data), [3, 7, 12])
  t.deepEqual(m.history, [])
})

for (const device of DEVICES) {
  test(`[${device}] fitOasis raises validation MAP@R under s; sync and async agree`, async (t) => {
    const rng = new Rng(91)
    const train = hidden(rng, 30)
    const valid = hidden(rng, 15)
    const opts = { steps: 3000, c: 0.1, seed: 3, device, validation: { embeddings: valid.x, labels: valid.labels } }
    const progress: number[] = []
    const m = tk.fitOasisSync(train.x, train.labels, { ...opts, onProgress: (step) => progress.push(step) })
    t.deepEqual(progress, [300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3000])
    const raw = tk.fitOasisSync(train.x, train.labels, { ...opts, steps: 0 })
    const rawMap = tk.retrievalMetricsSync(raw.transform(valid.x), valid.labels, { metric: 'dot', device }).mapAtR
    const last = m.history[m.history.length - 1].mapAtR!
    t.true(last > rawMap + 0.1, `MAP@R ${rawMap.toFixed(3)} raw → ${last.toFixed(3)} learned`)
    const a = await tk.fitOasis(train.x, train.labels, opts)
    assertAllClose(t, a.weights.data, m.weights.data, { rel: 0, abs: 0 }, 'async weights')
  })

  test(`[${device}] fitLinearAdapter raises validation MAP@R and keeps the best epoch; sync and async agree`, async (t) => {
    const rng = new Rng(92)
    const train = hidden(rng, 40)
    const valid = hidden(rng, 15)
    const opts = { epochs: 8, batchSize: 32, learningRate: 0.05, seed: 5, device, validation: { embeddings: valid.x, labels: valid.labels } }
    const adapter = tk.fitLinearAdapterSync(train.x, train.labels, opts)
    t.deepEqual([adapter.weights.rows, adapter.weights.cols], [8, 8])
    const raw = tk.retrievalMetricsSync(valid.x, valid.labels, { device }).mapAtR
    const best = Math.max(...adapter.history.map((h) => h.mapAtR!))
    t.true(best > raw + 0.1, `MAP@R ${raw.toFixed(3)} raw → ${best.toFixed(3)} adapted`)
    // The returned W is the best epoch's: its MAP@R is the history's best.
    t.is(tk.retrievalMetricsSync(adapter.transform(valid.x), valid.labels, { device }).mapAtR, best)
    const a = await tk.fitLinearAdapter(train.x, train.labels, opts)
    assertAllClose(t, a.weights.data, adapter.weights.data, { rel: 0, abs: 0 }, 'async weights')
    // dim: a 8 → 2 map starts as the first two coordinates.
    const small = tk.fitLinearAdapterSync(train.x, train.labels, { dim: 2, epochs: 0, device })
    t.deepEqual(Array.from(small.transform([[1, 2, 3, 4, 5, 6, 7, 8]]).data), [1, 2])
  })
}

test('adapters: abort and bad input', async (t) => {
  const x = [[1, 0], [0.5, 0], [0, 1], [0, 2]]
  const y = [0, 0, 1, 1]
  for (const p of [tk.fitOasis(x, y, { signal: AbortSignal.abort() }), tk.fitLinearAdapter(x, y, { signal: AbortSignal.abort() })]) {
    const err = await p.then(() => undefined, (e: unknown) => e)
    t.true(err instanceof DOMException && err.name === 'AbortError', String(err))
  }
  const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
    [() => tk.fitOasisSync(x, y, { c: 0 }), RangeError, /^opts\.c: expected a positive number/],
    [() => tk.fitOasisSync(x, y, { steps: -1 }), RangeError, /^opts\.steps/],
    [() => tk.fitOasisSync(x, y, { validation: { embeddings: [[1, 2, 3]], labels: [0] } }), RangeError, /^opts\.validation\.embeddings: expected 2 columns/],
    [() => tk.fitLinearAdapterSync(x, y, { dim: 0 }), RangeError, /^opts\.dim/],
    [() => tk.fitLinearAdapterSync(x, y, { batchSize: 3 }), RangeError, /^opts\.batchSize: expected an integer ≥ 8/],
    [() => tk.fitLinearAdapterSync(x, y, { mining: 'hardest' as never }), RangeError, /^opts\.mining/],
    [() => tk.fitLinearAdapterSync(x, [0, 1]), RangeError, /^labels: expected 4 labels/],
    [() => tk.fitLinearAdapterSync(x, [0, 0, 1, 2]), RangeError, /^labels: expected at least 2 classes with 2 rows or more/],
    [() => tk.fitOasisSync(x, [0, 1, 2, 3]), RangeError, /^labels: expected a class with at least 2 rows and at least 2 classes/],
    [() => tk.fitLinearAdapterSync(x, y).transform([[1, 2, 3]]), RangeError, /^x: expected 2 columns/],
  ]
  for (const [f, kind, message] of bad) {
    const e = t.throws(f)
    t.is(e?.constructor, kind, e?.message)
    t.regex(e?.message ?? '', message)
  }
})
