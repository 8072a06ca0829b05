#!/usr/bin/env node
// Checks device 'cuda' against 'cpu' through the public API, on random inputs of odd sizes,
// for every op backends().cuda.ops lists; then times the large cases on both. Exits 1 on a
// mismatch, 2 when CUDA is unavailable. Run on a machine with an NVIDIA GPU, after
// `npm run build` (or with the built dist/ and .node copied there):
//
//   node bench/gpu-check.mjs [--quick] [--no-timing]
//
// With TRIPLETKIT_CUDA_EMULATOR=1 it runs through the CPU emulator (use --quick --no-timing:
// slow); CI runs it so. --no-timing stops after the checks.
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const tk = require('../dist/index.js')
const quick = process.argv.includes('--quick')

const { cuda } = tk.backends()
console.log(`cuda: ${JSON.stringify(cuda)}`)
if (!cuda.available) process.exit(2)

let seed = 12345
function rand() {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648 - 0.5
}
const matrix = (rows, cols) => ({ data: Float32Array.from({ length: rows * cols }, rand), rows, cols })
const labelsOf = (rows, classSize) => Int32Array.from({ length: rows }, (_, i) => Math.floor(i / classSize))

const failures = []
function expect(ok, what) {
  if (!ok) failures.push(what)
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
}
const relDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0)
// Exact distance in float64, to judge near-ties that float32 may break either way.
function dist(x, i, j, metric) {
  let s = 0, ni = 0, nj = 0
  for (let k = 0; k < x.cols; k++) {
    const a = x.data[i * x.cols + k], b = x.data[j * x.cols + k]
    s += metric === 'dot' || metric === 'cosine' ? a * b : (a - b) ** 2
    ni += a * a
    nj += b * b
  }
  if (metric === 'euclidean') return Math.sqrt(s)
  if (metric === 'dot') return -s
  if (metric === 'cosine') return ni === 0 || nj === 0 ? 1 : 1 - s / Math.sqrt(ni * nj)
  return s
}

const n = quick ? 301 : 3001
const d = 128
const x = matrix(n, d)
const labels = labelsOf(n, 8)
for (const metric of ['euclidean', 'sqeuclidean', 'cosine', 'dot']) {
  const g = tk.pairwiseDistancesSync(x, undefined, { metric, device: 'cuda' }).data
  const c = tk.pairwiseDistancesSync(x, undefined, { metric, device: 'cpu' }).data
  expect(relDiff(g, c) < 1e-4, `pairwiseDistances ${n}² × ${d} ${metric}: relative difference ${relDiff(g, c).toExponential(2)}`)

  const gk = tk.knnSync(x, x, { k: 10, excludeSelf: true, metric, device: 'cuda' })
  const ck = tk.knnSync(x, x, { k: 10, excludeSelf: true, metric, device: 'cpu' })
  expect(relDiff(gk.distances, ck.distances) < 1e-4, `knn ${n} × ${n}, k = 10, ${metric}: distances`)

  const gt = tk.mineTripletsSync(x, labels, { strategy: 'batch-hard', metric, device: 'cuda' })
  const ct = tk.mineTripletsSync(x, labels, { strategy: 'batch-hard', metric, device: 'cpu' })
  let same = gt.length === ct.length
  for (let t = 0; same && t < ct.length; t++) {
    const a = ct.anchor[t]
    same = gt.anchor[t] === a &&
      Math.abs(dist(x, a, gt.positive[t], metric) - dist(x, a, ct.positive[t], metric)) < 1e-4 &&
      Math.abs(dist(x, a, gt.negative[t], metric) - dist(x, a, ct.negative[t], metric)) < 1e-4
  }
  expect(same, `mineTriplets batch-hard ${n} × ${d} ${metric}: same anchors, extremes at equal distances`)

  const gl = tk.tripletLossSync(x, labels, { mining: 'batch-hard', metric, device: 'cuda' })
  const cl = tk.tripletLossSync(x, labels, { mining: 'batch-hard', metric, device: 'cpu' })
  expect(Math.abs(gl.loss - cl.loss) <= 1e-4 * Math.max(1, Math.abs(cl.loss)), `tripletLoss batch-hard ${metric}: ${gl.loss} vs ${cl.loss}`)
}

// The other functions backends().cuda.ops lists, at a smaller size (O(rows²) work on the
// host side for some): results within float rounding of cpu, or, for mining, the same
// anchors and positives with negatives at equal distances.
const m = quick ? 97 : 601
const xs = matrix(m, 64), ls = labelsOf(m, 6)
const closeTo = (a, b, what, tol = 1e-4) => expect(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`)
const gradDiff = (g, c) => relDiff(g.data, c.data)
for (const metric of ['euclidean', 'cosine']) {
  const gs = tk.mineTripletsSync(xs, ls, { strategy: 'batch-semihard', metric, device: 'cuda' })
  const cs = tk.mineTripletsSync(xs, ls, { strategy: 'batch-semihard', metric, device: 'cpu' })
  let same = gs.length === cs.length
  for (let t = 0; same && t < cs.length; t++) {
    same = gs.anchor[t] === cs.anchor[t] && gs.positive[t] === cs.positive[t] &&
      Math.abs(dist(xs, cs.anchor[t], gs.negative[t], metric) - dist(xs, cs.anchor[t], cs.negative[t], metric)) < 1e-4
  }
  expect(same, `mineTriplets batch-semihard ${m} × 64 ${metric}: same pairs, negatives at equal distances (${gs.length} triplets)`)
  for (const strategy of ['hard', 'semihard']) {
    const g = tk.mineTripletsSync(xs, ls, { strategy, metric, device: 'cuda' }).length
    const c = tk.mineTripletsSync(xs, ls, { strategy, metric, device: 'cpu' }).length
    expect(Math.abs(g - c) <= Math.max(2, c * 1e-4), `mineTriplets ${strategy} ${metric}: ${g} vs ${c} triplets`)
  }
  const gc = tk.contrastiveLossSync(xs, ls, { metric, device: 'cuda' })
  const cc = tk.contrastiveLossSync(xs, ls, { metric, device: 'cpu' })
  closeTo(gc.loss, cc.loss, `contrastiveLoss ${metric}`)
  expect(gradDiff(gc.grad, cc.grad) < 1e-3, `contrastiveLoss ${metric} gradient: ${gradDiff(gc.grad, cc.grad).toExponential(2)}`)
  const gr = tk.retrievalMetricsSync(xs, ls, { metric, device: 'cuda' })
  const cr = tk.retrievalMetricsSync(xs, ls, { metric, device: 'cpu' })
  for (const k of ['precisionAt1', 'rPrecision', 'mapAtR']) closeTo(gr[k], cr[k], `retrievalMetrics ${metric} ${k}`, 1e-3)
}
const [pa, pp, pn] = [matrix(m, 64), matrix(m, 64), matrix(m, 64)]
const gm = tk.tripletMarginLossSync(pa, pp, pn, { device: 'cuda' })
const cm = tk.tripletMarginLossSync(pa, pp, pn, { device: 'cpu' })
closeTo(gm.loss, cm.loss, 'tripletMarginLoss')
expect(gradDiff(gm.grad.anchor, cm.grad.anchor) < 1e-4, 'tripletMarginLoss anchor gradient')
const gn = tk.multipleNegativesRankingLossSync(pa, pp, { device: 'cuda' })
const cn = tk.multipleNegativesRankingLossSync(pa, pp, { device: 'cpu' })
closeTo(gn.loss, cn.loss, 'multipleNegativesRankingLoss')
expect(gradDiff(gn.grad.anchors, cn.grad.anchors) < 1e-3, 'multipleNegativesRankingLoss anchors gradient')
const rel = { data: Float32Array.from({ length: 31 * m }, () => Math.floor((rand() + 0.5) * 3) / 2), rows: 31, cols: m }
const rungs = { thresholds: [1, 0.5], margins: [0.2, 0.1] }
const q31 = matrix(31, 64)
closeTo(tk.ladderLossSync(q31, pa, rel, { ...rungs, device: 'cuda' }).loss, tk.ladderLossSync(q31, pa, rel, { ...rungs, device: 'cpu' }).loss, 'ladderLoss')
const same = Int32Array.from({ length: m }, (_, i) => i % 2)
const gv = tk.verificationMetricsSync(pa, pp, same, { device: 'cuda' })
const cv = tk.verificationMetricsSync(pa, pp, same, { device: 'cpu' })
for (const k of ['accuracy', 'rocAuc', 'eer']) closeTo(gv[k], cv[k], `verificationMetrics ${k}`, 1e-6)
// fitOasis keeps W on the device and sums in the cpu's order: the same bits.
const ox = matrix(200, 24)
const ow = (device) => tk.fitOasisSync(ox, labelsOf(200, 10), { steps: 3000, seed: 4, device }).weights.data
const [gw, cw] = [ow('cuda'), ow('cpu')]
expect(gw.every((v, i) => Object.is(v, cw[i])), 'fitOasis W bit for bit')
// Sampled set mining: the same sample on both devices.
const sx = matrix(300, 16)
const sl = labelsOf(300, 10)
for (const strategy of ['all', 'semihard']) {
  const g = tk.mineTripletsSync(sx, sl, { strategy, device: 'cuda', sample: { count: 5000, seed: 2 } })
  const c = tk.mineTripletsSync(sx, sl, { strategy, device: 'cpu', sample: { count: 5000, seed: 2 } })
  expect(g.length === c.length && g.negative.every((n, i) => n === c.negative[i] && g.anchor[i] === c.anchor[i]), `sampled ${strategy} mining: the cpu's sample`)
}
// A KnnIndex keeps its piece on the GPU: a second search gives the same lists.
const index = new tk.KnnIndex({ device: 'cuda' })
index.add(sx)
const first = index.searchSync(sx, { k: 5, excludeSelf: true })
expect(index.deviceBytes > 0, `KnnIndex keeps its piece on the GPU (${index.deviceBytes} bytes)`)
const again = index.searchSync(sx, { k: 5, excludeSelf: true })
expect(first.indices.every((v, i) => v === again.indices[i]), 'KnnIndex: a second search from the kept copy gives the same lists')
index.releaseDevice()

// Concurrent async calls: each runs on a thread and a stream of its own, and later rounds
// take the streams of threads that ended; every answer is its own input's cpu answer.
const inputs = Array.from({ length: 6 }, (_, i) => matrix(157 + 31 * i, 64))
const cpuLists = inputs.map((xi) => tk.knnSync(xi, xi, { k: 7, excludeSelf: true, device: 'cpu' }))
const cpuHard = inputs.map((xi) => tk.mineTripletsSync(xi, labelsOf(xi.rows, 5), { strategy: 'batch-hard', device: 'cpu' }))
for (let round = 1; round <= 3; round++) {
  const [lists, hard] = await Promise.all([
    Promise.all(inputs.map((xi) => tk.knn(xi, xi, { k: 7, excludeSelf: true, device: 'cuda' }))),
    Promise.all(inputs.map((xi) => tk.mineTriplets(xi, labelsOf(xi.rows, 5), { strategy: 'batch-hard', device: 'cuda' }))),
  ])
  const knnOk = lists.every((g, i) => relDiff(g.distances, cpuLists[i].distances) < 1e-4)
  const hardOk = hard.every((g, i) => g.length === cpuHard[i].length && g.anchor.every((a, t) => a === cpuHard[i].anchor[t]))
  expect(knnOk && hardOk, `round ${round}: 6 knn and 6 batch-hard async calls at once on cuda, each its own cpu answer`)
}

if (process.argv.includes('--no-timing')) {
  if (failures.length > 0) console.log(`\n${failures.length} mismatch(es)`)
  process.exit(failures.length > 0 ? 1 : 0)
}

function median(reps, f) {
  f()
  const t = []
  for (let r = 0; r < reps; r++) {
    const s = process.hrtime.bigint()
    f()
    t.push(Number(process.hrtime.bigint() - s) / 1e6)
  }
  return t.sort((a, b) => a - b)[t.length >> 1]
}

const s = quick ? 8 : 1
const big = matrix(32768 / s, 128)
const bigLabels = labelsOf(32768 / s, 8)
const q = matrix(10000 / s, 128)
const corpus = matrix(100000 / s, 128)
const table = [
  [`pairwiseDistances ${8192 / s}² × 128`, (device) => tk.pairwiseDistancesSync(matrix(8192 / s, 128), undefined, { device })],
  [`mineTriplets batch-hard N = ${32768 / s}`, (device) => tk.mineTripletsSync(big, bigLabels, { strategy: 'batch-hard', device })],
  [`tripletLoss batch-hard N = ${32768 / s}`, (device) => tk.tripletLossSync(big, bigLabels, { device })],
  [`knn ${10000 / s} × ${100000 / s} × 128, k = 10`, (device) => tk.knnSync(q, corpus, { k: 10, device })],
  [`mineTriplets 'all' N = ${4096 / s}, sampled to 10⁶`, (device) => tk.mineTripletsSync({ data: big.data.subarray(0, (4096 / s) * 128), rows: 4096 / s, cols: 128 },
    labelsOf(4096 / s, 32), { strategy: 'all', device, sample: { count: 1_000_000, seed: 1 } })],
  [`fitOasis d = 128, 20,000 steps`, (device) => tk.fitOasisSync(q, labelsOf(q.rows, 10), { steps: 20_000, seed: 1, device })],
].map(([work, f]) => {
  const gpu = median(3, () => f('cuda'))
  const cpu = median(1, () => f('cpu'))
  return { work, cuda: gpu, cpu, ratio: cpu / gpu }
})
console.log('\n| work (through the API, copies included) | cuda (ms) | cpu (ms) | cpu / cuda |\n|---|---:|---:|---:|')
for (const r of table) console.log(`| ${r.work} | ${r.cuda.toFixed(1)} | ${r.cpu.toFixed(1)} | ${r.ratio.toFixed(1)}× |`)
if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-check.json'), JSON.stringify({ cuda, failures, table }, null, 1))
if (failures.length > 0) {
  console.log(`\n${failures.length} mismatch(es)`)
  process.exit(1)
}
