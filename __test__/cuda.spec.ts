/**
 * device: 'cuda' through the CPU emulator of the CUDA kernels (TRIPLETKIT_CUDA_EMULATOR=1, set
 * below before the addon opens its devices): the real kernels, launch geometry, chunking and
 * result assembly, compared with the cpu device on random inputs of odd sizes. Indices must be
 * equal (the data are continuous, so ties are improbable); values within float32 rounding.
 */
process.env.TRIPLETKIT_CUDA_EMULATOR = '1'

import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import test from 'ava'
import * as tk from '../index'
import { CUDA_AUTO_MIN_MACS, resolveDevice } from '../src/device'
import { flat, gaussianRows, makeLabels } from './helpers/data'
import { METRICS } from './helpers/oracle'
import { Rng } from './helpers/prng'

const CUDA_OPS = ['pairwiseDistances', 'knn', 'mineTriplets', 'tripletLoss', 'tripletMarginLoss', 'retrievalMetrics',
  'contrastiveLoss', 'multipleNegativesRankingLoss', 'verificationMetrics', 'ladderLoss', 'supConLoss', 'fitOasis']

function matrix(rng: Rng, rows: number, cols: number): tk.Matrix {
  return { data: flat(gaussianRows(rng, rows, cols)), rows, cols }
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])))
  return m
}

test('backends() reports the emulator, its ops, and that it is one', (t) => {
  const { cuda } = tk.backends()
  t.true(cuda.available)
  t.true(cuda.emulated)
  t.regex(cuda.device ?? '', /emulator/i)
  t.deepEqual(cuda.ops, CUDA_OPS)
  t.is(cuda.maxK, 1024)
})

test("'auto' never picks the emulator, whatever the work", (t) => {
  t.is(resolveDevice('auto', { op: 'pairwiseDistances', macs: CUDA_AUTO_MIN_MACS * 4, bytes: 1 }).device, 'cpu')
  t.is(resolveDevice('cuda').device, 'cuda')
})

test('pairwiseDistances on cuda matches cpu for every metric, self and cross, odd sizes', async (t) => {
  const rng = new Rng(61)
  for (const [n, m, d] of [[1, 1, 3], [67, 3, 5], [130, 65, 33]]) {
    const a = matrix(rng, n, d)
    const b = matrix(rng, m, d)
    for (const metric of METRICS) {
      for (const other of [undefined, b]) {
        const o = { metric, device: 'cuda' as const }
        const got = tk.pairwiseDistancesSync(a, other, o)
        const want = tk.pairwiseDistancesSync(a, other, { ...o, device: 'cpu' })
        t.deepEqual([got.rows, got.cols], [want.rows, want.cols])
        t.true(maxRelDiff(got.data, want.data) < 1e-5, `${n}×${m}×${d} ${metric}`)
        if (other === undefined && metric !== 'dot') for (let i = 0; i < n; i++) t.is(got.data[i * n + i], 0)
        t.deepEqual((await tk.pairwiseDistances(a, other, o)).data, got.data, 'async = sync')
      }
    }
  }
})

test('knn on cuda matches cpu: k past the tile, excludeSelf, batches, progress', async (t) => {
  const rng = new Rng(62)
  const q = matrix(rng, 45, 9)
  const c = matrix(rng, 700, 9)
  for (const metric of METRICS) {
    for (const k of [1, 7, 100]) {
      const got = tk.knnSync(q, c, { k, metric, device: 'cuda' })
      const want = tk.knnSync(q, c, { k, metric, device: 'cpu' })
      t.deepEqual(got.indices, want.indices, `${metric} k=${k}`)
      t.true(maxRelDiff(got.distances, want.distances) < 1e-5)
    }
  }
  const seen: number[] = []
  const self = await tk.knn(c, c, { k: 5, excludeSelf: true, batchSize: 256, device: 'cuda', onProgress: (done) => seen.push(done) })
  t.deepEqual(self.indices, tk.knnSync(c, c, { k: 5, excludeSelf: true, device: 'cpu' }).indices)
  t.true(seen.length > 0 && seen[seen.length - 1] === 700, `progress: ${seen.join(',')}`)
})

for (const strategy of ['batch-hard', 'batch-semihard'] as const) {
  test(`${strategy} mining and loss on cuda match cpu, with and without a reference set`, async (t) => {
    const rng = new Rng(63)
    for (const [n, d] of [[2, 3], [67, 5], [150, 20]]) {
      const x = matrix(rng, n, d)
      for (const scheme of ['few', 'singletons', 'allEqual'] as const) {
        const labels = makeLabels(rng, n, scheme)
        for (const metric of METRICS) {
          const o = { strategy, metric }
          const got = tk.mineTripletsSync(x, labels, { ...o, device: 'cuda' })
          const want = tk.mineTripletsSync(x, labels, { ...o, device: 'cpu' })
          t.deepEqual(got, want, `mine ${n}×${d} ${scheme} ${metric}`)
          t.deepEqual(await tk.mineTriplets(x, labels, { ...o, device: 'cuda' }), want)
        }
      }
      const labels = makeLabels(rng, n, 'few')
      const lo = { mining: strategy, normalize: true, softMargin: true }
      const gl = tk.tripletLossSync(x, labels, { ...lo, device: 'cuda' })
      const wl = tk.tripletLossSync(x, labels, { ...lo, device: 'cpu' })
      t.deepEqual([gl.triplets, gl.active], [wl.triplets, wl.active])
      t.true(Math.abs(gl.loss - wl.loss) <= 1e-9 * Math.max(1, Math.abs(wl.loss)))
      t.deepEqual(gl.grad.data, wl.grad.data)
    }
    const x = matrix(rng, 40, 6)
    const reference = matrix(rng, 90, 6)
    const labels = makeLabels(rng, 40, 'few')
    const referenceLabels = makeLabels(rng, 90, 'few')
    const o = { strategy, reference, referenceLabels }
    t.deepEqual(tk.mineTripletsSync(x, labels, { ...o, device: 'cuda' }), tk.mineTripletsSync(x, labels, { ...o, device: 'cpu' }))
  })
}

test('retrievalMetrics on cuda ranks by knn and matches cpu, self and against a reference', async (t) => {
  const rng = new Rng(66)
  const q = matrix(rng, 111, 7)
  const ql = makeLabels(rng, 111, 'few')
  const reference = matrix(rng, 80, 7)
  const referenceLabels = makeLabels(rng, 80, 'few')
  for (const k of [1, 10, 500]) {
    for (const extra of [{}, { reference, referenceLabels }]) {
      const got = await tk.retrievalMetrics(q, ql, { ...extra, k, device: 'cuda' })
      const want = tk.retrievalMetricsSync(q, ql, { ...extra, k, device: 'cpu' })
      t.is(got.queries, want.queries)
      for (const key of Object.keys(want) as (keyof typeof want)[]) t.true(Math.abs(got[key] - want[key]) < 1e-12, `k=${k} ${key}`)
    }
  }
})

test('a cuda call aborted before or while it runs rejects with an AbortError carrying the reason', async (t) => {
  const rng = new Rng(64)
  const x = matrix(rng, 3000, 32)
  const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e)
  const before = new AbortController()
  before.abort('before')
  const e1 = await rejection(tk.pairwiseDistances(x, undefined, { device: 'cuda', signal: before.signal }))
  t.true(e1 instanceof DOMException && e1.name === 'AbortError' && e1.cause === 'before', String(e1))
  // Mining 3000 rows through the emulator takes seconds: the stop lands between chunks.
  const during = new AbortController()
  const labels = makeLabels(rng, 3000, 'few')
  const started = Date.now()
  setTimeout(() => during.abort('during'), 50)
  const e2 = await rejection(tk.mineTriplets(x, labels, { strategy: 'batch-hard', device: 'cuda', signal: during.signal }))
  t.true(e2 instanceof DOMException && e2.name === 'AbortError' && e2.cause === 'during', String(e2))
  t.log(`rejected after ${Date.now() - started} ms`)
  t.deepEqual(Array.from(tk.knnSync([[0], [1]], [[0], [1]], { k: 1, device: 'cuda' }).indices), [0, 1])
})

test('set strategies on cuda give the cpu triplets in the same order, and refuse past maxTriplets', async (t) => {
  const rng = new Rng(67)
  const x = matrix(rng, 45, 3)
  const labels = makeLabels(rng, 45, 'few')
  for (const strategy of ['all', 'violating', 'hard', 'semihard', 'easy'] as const) {
    for (const margin of [0.1, 1]) {
      const want = tk.mineTripletsSync(x, labels, { strategy, margin, device: 'cpu' })
      t.deepEqual(await tk.mineTriplets(x, labels, { strategy, margin, device: 'cuda' }), want, `${strategy} ${margin}`)
      const lo = { mining: strategy, margin, softMargin: strategy === 'all' }
      t.deepEqual(tk.tripletLossSync(x, labels, { ...lo, device: 'cuda' }).grad.data, tk.tripletLossSync(x, labels, { ...lo, device: 'cpu' }).grad.data)
      if (want.length > 1) {
        t.throws(() => tk.mineTripletsSync(x, labels, { strategy, margin, maxTriplets: want.length - 1, device: 'cuda' }),
          { instanceOf: RangeError, code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS' })
      }
    }
  }
  // Given triplets: no distances to mine; the loss is the host pass, the same as on cpu.
  const mining = tk.mineTripletsSync(x, labels, { strategy: 'all', device: 'cpu' })
  t.deepEqual(tk.tripletLossSync(x, labels, { mining, device: 'cuda' }), tk.tripletLossSync(x, labels, { mining, device: 'cpu' }))
})

test('fitOasis on cuda keeps W on the device and learns the cpu\'s W bit for bit, sync and async, with validation', async (t) => {
  const rng = new Rng(68)
  const x = matrix(rng, 30, 4)
  const labels = makeLabels(rng, 30, 'few')
  const validation = { embeddings: matrix(rng, 12, 4), labels: makeLabels(rng, 12, 'few') }
  for (const opts of [{ steps: 1500, seed: 3 }, { steps: 40, c: 0.01, seed: 9, validation }, { steps: 0 }]) {
    const want = tk.fitOasisSync(x, labels, { ...opts, device: 'cpu' })
    for (const got of [tk.fitOasisSync(x, labels, { ...opts, device: 'cuda' }), await tk.fitOasis(x, labels, { ...opts, device: 'cuda' })]) {
      t.deepEqual(new Uint32Array(got.weights.data.buffer.slice(0)), new Uint32Array(want.weights.data.buffer.slice(0)), `W, ${JSON.stringify(opts.steps)} steps`)
      t.deepEqual(got.history, want.history)
    }
  }
})

test('a search past the kernels\' 1024 neighbours is refused naming the argument the caller gave', (t) => {
  const rng = new Rng(70)
  const c = matrix(rng, 1100, 3)
  const q = matrix(rng, 2, 3)
  t.throws(() => tk.knnSync(q, c, { k: 1025, device: 'cuda' }),
    { instanceOf: RangeError, message: "opts.k: expected at most 1024 on device 'cuda', received 1025" })
  t.throws(() => tk.mineHardNegativesSync(q, c, [0, 1], { rangeMax: 1024, device: 'cuda' }),
    { instanceOf: RangeError, message: /^opts\.rangeMax: expected at most 1023 on device 'cuda'/ })
  // At the limit it runs, and the same as on cpu.
  const at = tk.mineHardNegativesSync(q, c, [0, 1], { rangeMax: 1023, device: 'cuda' })
  t.deepEqual(at.negatives, tk.mineHardNegativesSync(q, c, [0, 1], { rangeMax: 1023, device: 'cpu' }).negatives)
  // 'auto' takes a device that can.
  t.is(tk.knnSync(q, c, { k: 1025, device: 'auto' }).indices.length, 2 * 1025)
})

test('maxMemory makes cuda plan smaller chunks with the same answers, and refuses a budget no chunk fits', async (t) => {
  const rng = new Rng(69)
  const x = matrix(rng, 300, 12)
  const labels = makeLabels(rng, 300, 'few')
  const q = matrix(rng, 40, 12)
  const whole = tk.pairwiseDistancesSync(x, undefined, { device: 'cuda' })
  t.deepEqual(tk.pairwiseDistancesSync(x, undefined, { device: 'cuda', maxMemory: 150_000 }), whole)
  t.deepEqual(await tk.knn(q, x, { k: 7, device: 'cuda', maxMemory: 100_000 }), tk.knnSync(q, x, { k: 7, device: 'cuda' }))
  // Each a budget that still takes 64 anchors at a time (the set strategies keep a row of
  // distances and a row of pairs per anchor).
  for (const [strategy, maxMemory] of [['batch-hard', 30_000], ['batch-semihard', 120_000], ['semihard', 700_000]] as const) {
    t.deepEqual(tk.mineTripletsSync(x, labels, { strategy, device: 'cuda', maxMemory }),
      tk.mineTripletsSync(x, labels, { strategy, device: 'cpu' }), strategy)
  }
  t.throws(() => tk.pairwiseDistancesSync(x, undefined, { device: 'cuda', maxMemory: 1000 }),
    { instanceOf: RangeError, code: 'ERR_TRIPLETKIT_OUT_OF_MEMORY', message: /cannot fit this call: it needs at least .* MiB.*maxMemory/ })
  t.throws(() => tk.pairwiseDistancesSync(x, undefined, { device: 'cuda', maxMemory: 0 }), { instanceOf: RangeError, message: /^opts\.maxMemory: / })
  t.throws(() => tk.pairwiseDistancesSync(x, undefined, { device: 'cuda', maxMemory: '1GB' as never }), { message: /^opts\.maxMemory: / })
  // The cpu device's result is not a tile: the budget does not apply to it (maxMemory.spec.ts).
  t.deepEqual(tk.pairwiseDistancesSync(x, undefined, { device: 'cpu', maxMemory: 1000 }), tk.pairwiseDistancesSync(x, undefined, { device: 'cpu' }))
})

// The GPU machine's check script, run here through the emulator so that it cannot rot
// between the runs on a real GPU: every function it checks must agree with cpu.
test('bench/gpu-check.mjs passes through the emulator', (t) => {
  const root = join(__dirname, '..')
  const r = spawnSync(process.execPath, [join(root, 'bench', 'gpu-check.mjs'), '--quick', '--no-timing'], {
    cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, TRIPLETKIT_CUDA_EMULATOR: '1' },
  })
  t.is(r.status, 0, `${r.stdout}\n${r.stderr}`)
  t.regex(r.stdout, /ok {3}ladderLoss/)
  t.notRegex(r.stdout, /FAIL/)
})
