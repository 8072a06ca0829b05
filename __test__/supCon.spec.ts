// supConLoss: hand-worked cases on every device, an oracle written here from the definition
// (pytorch-metric-learning's SupConLoss: cosine similarities over a temperature, a log-softmax
// over every other row, the mean over the positives, the mean over the anchors whose loss is
// > 0), gradients against finite differences of that oracle, odd sizes, and bad input.
import test from 'ava'
import * as tk from '../index'
import { assertAllClose } from './helpers/compare'
import { type Rows, flat, gaussianRows } from './helpers/data'
import { DEVICES } from './helpers/devices'
import { numericGrad } from './helpers/fd'
import { dotp, norm } from './helpers/oracle'
import { Rng } from './helpers/prng'

/** The loss by the definition, in float64, and the anchors it is the mean over. */
function oracle(x: Rows, labels: readonly number[], temperature: number): { loss: number; anchors: number } {
  const n = x.length
  const same = labels.some((l, i) => labels.some((m, j) => j !== i && m === l))
  const other = labels.some((l) => labels.some((m) => m !== l))
  if (!same || !other) return { loss: 0, anchors: 0 }
  const cos = (a: readonly number[], b: readonly number[]): number => (norm(a) === 0 || norm(b) === 0 ? 0 : dotp(a, b) / (norm(a) * norm(b)))
  let sum = 0
  let anchors = 0
  for (let i = 0; i < n; i++) {
    const positives = labels.flatMap((l, j) => (j !== i && l === labels[i] ? [j] : []))
    if (positives.length === 0) continue
    const s = x.map((r) => cos(x[i], r) / temperature)
    const max = Math.max(...s.filter((_, j) => j !== i))
    const lse = max + Math.log(s.reduce((acc, v, j) => (j === i ? acc : acc + Math.exp(v - max)), 0))
    const l = -positives.reduce((acc, p) => acc + s[p] - lse, 0) / positives.length
    if (l > 0) {
      sum += l
      anchors++
    }
  }
  return { loss: anchors === 0 ? 0 : sum / anchors, anchors }
}

for (const device of DEVICES) {
  test(`[${device}] hand-worked: two rows of a class and one of another, τ = 1`, (t) => {
    // Cosines: c01 = 1, c02 = c12 = 0. Anchors 0 and 1: −(1 − log(e + 1)) = log(1 + 1/e); row
    // 2 has no positive. ∂/∂x2 = 0 by symmetry; x0 and x1 are pulled in no direction either,
    // since they coincide: their gradients are orthogonal to themselves.
    const r = tk.supConLossSync([[1, 0], [1, 0], [0, 1]], [0, 0, 1], { temperature: 1, device })
    t.true(Math.abs(r.loss - Math.log1p(Math.exp(-1))) < 1e-6, `${r.loss}`)
    t.is(r.anchors, 2)
    t.deepEqual([r.grad.rows, r.grad.cols], [3, 2])
    // One class only, or no class with two rows: loss 0, zero gradient, no anchor.
    for (const labels of [[4, 4, 4], [1, 2, 3]]) {
      const z = tk.supConLossSync([[1, 0], [1, 2], [0, 1]], labels, { device })
      t.deepEqual([z.loss, z.anchors], [0, 0])
      t.true(z.grad.data.every((v) => v === 0))
    }
    // No rows: loss 0.
    t.deepEqual(tk.supConLossSync({ data: new Float32Array(0), rows: 0, cols: 3 }, [], { device }).loss, 0)
  })

  test(`[${device}] the oracle's loss and its finite differences, odd sizes, a zero row, every τ`, (t) => {
    const rng = new Rng(91)
    for (const [rows, cols, classes] of [[2, 1, 1], [5, 3, 2], [13, 4, 3], [29, 7, 5]]) {
      for (const temperature of [1e-3, 0.07, 0.1, 1, 5]) {
        const x = gaussianRows(rng, rows, cols)
        if (rows > 4) x[3] = x[3].map(() => 0)
        const labels = Array.from({ length: rows }, (_, i) => (i * 7) % Math.max(1, classes) + (classes === 1 ? i : 0))
        const r = tk.supConLossSync(x, labels, { temperature, device })
        const want = oracle(x, labels, temperature)
        t.is(r.anchors, want.anchors, `${rows} × ${cols}, τ ${temperature}`)
        t.true(Math.abs(r.loss - want.loss) <= 1e-5 * Math.max(1, want.loss), `${rows} × ${cols}, τ ${temperature}: ${r.loss} vs ${want.loss}`)
        if (want.anchors === 0 || temperature < 0.1) continue
        const f = (data: Float32Array): number => {
          const m = Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)))
          return oracle(m, labels, temperature).loss
        }
        const fd = numericGrad(f, Float32Array.from(flat(x)), 1e-3)
        // The zero row: cosine is not differentiable there, and its gradient is taken as 0.
        const zero = rows > 4 ? [3 * cols, 4 * cols] : [0, 0]
        t.true(r.grad.data.subarray(zero[0], zero[1]).every((v) => v === 0))
        const others = (g: ArrayLike<number>): number[] => Array.from(g).filter((_, k) => k < zero[0] || k >= zero[1])
        assertAllClose(t, others(r.grad.data), others(fd), { rel: 2e-2, abs: 2e-3 }, `gradient ${rows} × ${cols}, τ ${temperature}`)
      }
    }
  })

  test(`[${device}] async twin, abort, and bad input`, async (t) => {
    const x = [[0, 1], [1, 0], [2, 2], [1, 1]]
    const labels = [0, 0, 1, 1]
    t.deepEqual(await tk.supConLoss(x, labels, { device }), tk.supConLossSync(x, labels, { device }))
    const err = await tk.supConLoss(x, labels, { device, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e)
    t.true(err instanceof DOMException && err.name === 'AbortError')
    const bad: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => tk.supConLossSync(x, [0, 0, 1], { device }), RangeError, /^labels: expected 4 labels/],
      [() => tk.supConLossSync(x, labels, { temperature: 0, device }), RangeError, /^opts\.temperature: expected a positive number, received 0/],
      [() => tk.supConLossSync(x, labels, { temperature: -1, device }), RangeError, /^opts\.temperature: expected a positive number/],
      [() => tk.supConLossSync(x, labels, { temperature: Number.NaN, device }), RangeError, /^opts\.temperature/],
      [() => tk.supConLossSync(x, labels, { temperature: '1' as never, device }), TypeError, /^opts\.temperature/],
      [() => tk.supConLossSync(x, labels, { margin: 1, device } as never), TypeError, /margin/],
    ]
    for (const [f, kind, message] of bad) {
      const e = t.throws(f)
      t.is(e?.constructor, kind, e?.message)
      t.regex(e?.message ?? '', message)
    }
  })
}

test('cpu and js agree on odd sizes, losses and gradients', (t) => {
  const rng = new Rng(92)
  for (const [rows, cols] of [[3, 1], [17, 5], [65, 33]]) {
    const x = gaussianRows(rng, rows, cols)
    const labels = Array.from({ length: rows }, () => Math.floor(rng.next() * 4))
    const js = tk.supConLossSync(x, labels, { device: 'js' })
    const cpu = tk.supConLossSync(x, labels, { device: 'cpu' })
    t.is(cpu.anchors, js.anchors)
    t.true(Math.abs(cpu.loss - js.loss) <= 1e-5 * Math.max(1, js.loss), `${cpu.loss} vs ${js.loss}`)
    assertAllClose(t, cpu.grad.data, js.grad.data, { rel: 1e-4, abs: 1e-5 }, `gradient ${rows} × ${cols}`)
  }
})
