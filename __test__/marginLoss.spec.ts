import test from 'ava'
import { tripletMarginLossSync, type Matrix, type Metric } from '../index'
import { DEVICES } from './helpers/devices'
import { assertAllClose, assertClose, distScale, distTol } from './helpers/compare'
import { flat, gaussianRows, type Rows } from './helpers/data'
import { numericGrad } from './helpers/fd'
import { METRICS, reduce, tripletTerms } from './helpers/oracle'
import { Rng } from './helpers/prng'

const EXACT = { rel: 1e-6, abs: 1e-6 }
const REDUCTIONS = ['mean', 'sum', 'none'] as const
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))
const softplus = (v: number) => Math.log1p(Math.exp(v))
const R2 = Math.SQRT1_2 // 1/√2

function grads(r: { grad: { anchor: Matrix; positive: Matrix; negative: Matrix } }): number[][] {
  return [Array.from(r.grad.anchor.data), Array.from(r.grad.positive.data), Array.from(r.grad.negative.data)]
}

// Three 1-D triplets (row i of anchor, positive, negative), euclidean:
//   row 0: a 0, p 1, n 2 → d(a,p) 1, d(a,n) 2       row 1: a 0, p 3, n 1 → 3, 1       row 2: a 5, p 5, n 5 → 0, 0
// α = 1: losses max(0, 1 − 2 + 1) = 0 (exactly at the kink: no gradient), 3 − 1 + 1 = 3, 0 − 0 + 1 = 1 (both
// distances 0: euclidean gradient 0). Row 1's gradient: d(a,p) = p − a, −d(a,n) = a − n → a 0, p +1, n −1.
const A = [[0], [0], [5]]
const P = [[1], [3], [5]]
const N = [[2], [1], [5]]

interface Hand {
  name: string
  opts: Parameters<typeof tripletMarginLossSync>[3]
  loss: number
  losses: number[]
  grad: number[][] // anchor, positive, negative
}
const HAND: Hand[] = [
  { name: 'α 1, mean', opts: { margin: 1 }, loss: 4 / 3, losses: [0, 3, 1], grad: [[0, 0, 0], [0, 1 / 3, 0], [0, -1 / 3, 0]] },
  { name: 'α 1, sum', opts: { margin: 1, reduction: 'sum' }, loss: 4, losses: [0, 3, 1], grad: [[0, 0, 0], [0, 1, 0], [0, -1, 0]] },
  // none: `loss` is the sum, each row's gradient that of its own loss
  { name: 'α 1, none', opts: { margin: 1, reduction: 'none' }, loss: 4, losses: [0, 3, 1], grad: [[0, 0, 0], [0, 1, 0], [0, -1, 0]] },
  // default α 0.2: 1 − 2 + 0.2 < 0, 3 − 1 + 0.2 = 2.2, 0.2 → mean 0.8
  { name: 'defaults (α 0.2, mean, euclidean)', opts: {}, loss: 0.8, losses: [0, 2.2, 0.2], grad: [[0, 0, 0], [0, 1 / 3, 0], [0, -1 / 3, 0]] },
  // swap, α 1: row 0: d(p,n) = 1 < 2 → 1 − 1 + 1 = 1, gradient through d(p,n): a −1, p +1 + 1, n −1;
  //            row 1: d(p,n) = 2 > 1, unchanged; row 2: d(p,n) = 0 = d(a,n), a tie: d(a,n), loss 1
  { name: 'swap, α 1, sum', opts: { margin: 1, reduction: 'sum', swap: true }, loss: 5, losses: [1, 3, 1], grad: [[-1, 0, 0], [2, 1, 0], [-1, -1, 0]] },
  // softMargin: softplus(d(a,p) − d(a,n)) of −1, 2, 0; gradients sigmoid(·) times those of d(a,p) − d(a,n):
  //   row 0: d(a,p) = p − a, −d(a,n) = a − n → a 0, p +1, n −1;  row 1: a 0, p +1, n −1;  row 2: none
  {
    name: 'softMargin, sum',
    opts: { softMargin: true, reduction: 'sum' },
    loss: softplus(-1) + softplus(2) + softplus(0),
    losses: [softplus(-1), softplus(2), softplus(0)],
    grad: [[0, 0, 0], [sigmoid(-1), sigmoid(2), 0], [-sigmoid(-1), -sigmoid(2), 0]],
  },
]

// One 2-D triplet a = (1, 0), p = (0, 1), n = (1, 1), α 0.2, each metric:
//   euclidean:   d(a,p) = √2, d(a,n) = 1 → √2 − 1 + 0.2; ∂/∂a (a−p)/√2 − (a−n) = (1/√2, 1 − 1/√2), ∂/∂p = (−1/√2, 1/√2), ∂/∂n = (0, −1)
//   sqeuclidean: 2 − 1 + 0.2 = 1.2; ∂/∂a 2(n − p) = (2, 0), ∂/∂p 2(p − a) = (−2, 2), ∂/∂n 2(a − n) = (0, −2)
//   cosine:      d(a,p) = 1, d(a,n) = 1 − 1/√2 → 1/√2 + 0.2; with ∂d(u,v)/∂u = −(v̂ − cos·û)/‖u‖:
//                ∂/∂a = (0, −1) − (0, −1/√2), ∂/∂p = (−1, 0), ∂/∂n = ((1,0) − (½,½))/√2 = (1/(2√2), −1/(2√2))
//   dot:         d(a,p) = 0, d(a,n) = −1 → 1.2; ∂/∂a = n − p = (1, 0), ∂/∂p = −a, ∂/∂n = a
const HAND_2D: Record<Metric, { loss: number; grad: number[][] }> = {
  euclidean: { loss: Math.SQRT2 - 1 + 0.2, grad: [[R2, 1 - R2], [-R2, R2], [0, -1]] },
  sqeuclidean: { loss: 1.2, grad: [[2, 0], [-2, 2], [0, -2]] },
  cosine: { loss: R2 + 0.2, grad: [[0, R2 - 1], [-1, 0], [R2 / 2, -R2 / 2]] },
  dot: { loss: 1.2, grad: [[1, 0], [-1, 0], [1, 0]] },
}
// normalize: n → (1/√2, 1/√2); euclidean d(a,n) = √((1 − 1/√2)² + ½) = √(2 − √2), dot d(a,n) = −1/√2
const HAND_2D_NORMALIZED: Record<Metric, number> = {
  euclidean: Math.SQRT2 - Math.sqrt(2 - Math.SQRT2) + 0.2,
  sqeuclidean: 2 - (2 - Math.SQRT2) + 0.2,
  cosine: R2 + 0.2,
  dot: R2 + 0.2,
}

for (const device of DEVICES) {
  for (const h of HAND) {
    test(`[${device}] hand-worked: ${h.name}`, (t) => {
      const r = tripletMarginLossSync(A, P, N, { ...h.opts, device })
      assertClose(t, r.loss, h.loss, EXACT, 'loss')
      t.true(r.losses instanceof Float32Array)
      assertAllClose(t, r.losses, h.losses, EXACT, 'losses')
      for (const [i, name] of ['anchor', 'positive', 'negative'].entries()) {
        const g = r.grad[name as 'anchor']
        t.is(g.rows, 3)
        t.is(g.cols, 1)
        t.true(g.data instanceof Float32Array)
        assertAllClose(t, g.data, h.grad[i], EXACT, `grad.${name}`)
      }
    })
  }

  for (const metric of METRICS) {
    test(`[${device}] hand-worked 2-D: ${metric}`, (t) => {
      const r = tripletMarginLossSync([[1, 0]], [[0, 1]], [[1, 1]], { metric, device })
      assertClose(t, r.loss, HAND_2D[metric].loss, EXACT, 'loss')
      const g = grads(r)
      for (let i = 0; i < 3; i++) assertAllClose(t, g[i], HAND_2D[metric].grad[i], EXACT, `grad ${i}`)
      const n = tripletMarginLossSync([[1, 0]], [[0, 1]], [[1, 1]], { metric, normalize: true, device })
      assertClose(t, n.loss, HAND_2D_NORMALIZED[metric], EXACT, 'normalized loss')
    })
  }

  test(`[${device}] zero vectors and identical rows give finite gradients`, (t) => {
    for (const metric of METRICS)
      for (const normalize of [false, true]) {
        const r = tripletMarginLossSync([[0, 0], [1, 2]], [[0, 0], [1, 2]], [[0, 0], [1, 2]], { metric, normalize, margin: 1, device })
        t.true(Number.isFinite(r.loss), `${metric} ${normalize}`)
        t.true(grads(r).flat().every(Number.isFinite), `${metric} ${normalize}`)
      }
  })
}

// ---------------------------------------------------------------------------------------------
// Gradients against central finite differences, every metric × normalize × swap × softMargin × reduction.

function fdCase(metric: Metric, normalize: boolean, seed: number): { a: Rows; p: Rows; n: Rows; margin: number } {
  const rng = new Rng(seed)
  for (let attempt = 0; attempt < 500; attempt++) {
    const [a, p, n] = [gaussianRows(rng, 6, 3), gaussianRows(rng, 6, 3), gaussianRows(rng, 6, 3)]
    const gaps = tripletTerms(a, p, n, { metric, normalize, margin: 0 }).inner.slice().sort((u, v) => u - v)
    const margin = Math.fround(-(gaps[2] + gaps[3]) / 2)
    let ok = true
    for (const swap of [false, true]) {
      const terms = tripletTerms(a, p, n, { metric, normalize, margin, swap })
      if (terms.inner.some((v) => Math.abs(v) < 0.02) || terms.swapGap.some((v) => Math.abs(v) < 0.02)) ok = false
      if (!terms.inner.some((v) => v > 0) || !terms.inner.some((v) => v < 0)) ok = false
    }
    if (ok) return { a, p, n, margin }
  }
  throw new Error('no kink-free case found')
}

for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    test(`finite differences: tripletMarginLoss gradient, ${metric}${normalize ? ' normalized' : ''}, every swap × softMargin × reduction, both devices`, (t) => {
      const c = fdCase(metric, normalize, 6000 + METRICS.indexOf(metric) * 2 + (normalize ? 1 : 0))
      const inputs = [flat(c.a), flat(c.p), flat(c.n)]
      const m = (data: Float32Array) => ({ data, rows: 6, cols: 3 })
      for (const swap of [false, true])
        for (const softMargin of [false, true])
          for (const reduction of REDUCTIONS) {
            const opts = { margin: c.margin, metric, normalize, swap, softMargin, reduction }
            const where = `swap ${swap}, softMargin ${softMargin}, ${reduction}`
            const terms = tripletTerms(c.a, c.p, c.n, opts)
            for (const device of DEVICES) {
              const r = tripletMarginLossSync(c.a, c.p, c.n, { ...opts, device })
              assertClose(t, r.loss, reduce(terms.losses, reduction), { rel: 1e-5, abs: 1e-6 }, `${device} loss, ${where}`)
              assertAllClose(t, r.losses, terms.losses, { rel: 1e-5, abs: 1e-6 }, `${device} losses, ${where}`)
              const g = grads(r)
              for (let which = 0; which < 3; which++) {
                const f = (x: Float32Array) => {
                  const args = inputs.map((v, i) => m(i === which ? x : v))
                  return tripletMarginLossSync(args[0], args[1], args[2], { ...opts, device: 'js' }).loss
                }
                const fd = numericGrad(f, inputs[which])
                assertAllClose(t, g[which], fd, { rel: 1e-2, abs: 2e-3 * Math.max(1, ...Array.from(fd, Math.abs)) }, `${device} grad ${['anchor', 'positive', 'negative'][which]}, ${where}`)
              }
            }
          }
    })
  }
}

test('reductions relate: none = sum (loss and grad), mean = sum / rows', (t) => {
  const rng = new Rng(61)
  const [a, p, n] = [gaussianRows(rng, 9, 4), gaussianRows(rng, 9, 4), gaussianRows(rng, 9, 4)]
  for (const device of DEVICES) {
    const opts = { margin: 1, device }
    const sum = tripletMarginLossSync(a, p, n, { ...opts, reduction: 'sum' })
    const none = tripletMarginLossSync(a, p, n, { ...opts, reduction: 'none' })
    const mean = tripletMarginLossSync(a, p, n, { ...opts, reduction: 'mean' })
    assertClose(t, none.loss, sum.loss, EXACT, 'none loss')
    assertAllClose(t, grads(none).flat(), grads(sum).flat(), EXACT, 'none grad')
    assertClose(t, mean.loss, sum.loss / 9, EXACT, 'mean loss')
    assertAllClose(t, grads(mean).flat(), grads(sum).flat().map((v) => v / 9), EXACT, 'mean grad')
    t.deepEqual(Array.from(mean.losses), Array.from(sum.losses))
  }
})

// ---------------------------------------------------------------------------------------------
// Property: cpu against js on random inputs of awkward sizes. Gradients are per row, so a row
// whose hinge is within float32 error of its kink (or of a swap switch) is left out of the
// gradient comparison, and only that row.

for (const metric of METRICS) {
  for (const normalize of [false, true]) {
    test(`property: ${metric}${normalize ? ' normalized' : ''}, cpu and js agree with each other and the oracle`, (t) => {
      const rng = new Rng(7000 + METRICS.indexOf(metric) * 2 + (normalize ? 1 : 0))
      let variant = 0
      for (const rows of [1, 2, 3, 17, 129]) {
        for (const cols of [1, 3, 64, 257]) {
          const [a, p, n] = [gaussianRows(rng, rows, cols), gaussianRows(rng, rows, cols), gaussianRows(rng, rows, cols)]
          if (rows > 2) {
            p[0] = a[0].slice() // d(a,p) = 0
            n[1] = p[1].slice() // d(p,n) = 0
            a[2] = a[2].map(() => 0) // a zero vector
          }
          const scale = distScale(metric, normalize, a, p, n)
          const swap = variant % 2 === 1
          const softMargin = variant % 3 === 2
          const reduction = REDUCTIONS[variant % 3]
          variant++
          const opts = { margin: Math.fround(0.05 * scale), metric, normalize, swap, softMargin, reduction }
          const where = `${rows}×${cols}, swap ${swap}, softMargin ${softMargin}, ${reduction}`
          const terms = tripletTerms(a, p, n, opts)
          const js = tripletMarginLossSync(a, p, n, { ...opts, device: 'js' })
          const cpu = tripletMarginLossSync(a, p, n, { ...opts, device: 'cpu' })
          const lossTol = { rel: 1e-4, abs: 1e-5 * scale }
          assertAllClose(t, js.losses, terms.losses, { rel: 1e-5, abs: 1e-6 * scale }, `js losses vs oracle, ${where}`)
          assertAllClose(t, cpu.losses, js.losses, lossTol, `cpu vs js losses, ${where}`)
          assertClose(t, cpu.loss, js.loss, lossTol, `cpu vs js loss, ${where}`)
          const tol = distTol(scale)
          const [gj, gc] = [grads(js), grads(cpu)]
          const gmax = Math.max(0, ...gj.flat().map(Math.abs))
          for (let i = 0; i < rows; i++) {
            const err = 2 * (tol.abs + tol.rel * Math.abs(terms.dap[i]))
            if (!softMargin && Math.abs(terms.inner[i]) <= err) continue
            if (swap && terms.swapGap[i] !== 0 && Math.abs(terms.swapGap[i]) <= err) continue
            for (let w = 0; w < 3; w++)
              assertAllClose(t, gc[w].slice(i * cols, (i + 1) * cols), gj[w].slice(i * cols, (i + 1) * cols), { rel: 1e-3, abs: 1e-4 * gmax + 1e-10 }, `cpu vs js grad ${w} row ${i}, ${where}`)
          }
        }
      }
    })
  }
}
