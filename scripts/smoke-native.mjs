// A quick check of a native addon on its own platform (or under an emulator such as
// qemu-user): every op on 'cpu' against the 'js' reference on seeded random inputs of odd
// sizes. Needs the built dist/ and the platform's .node beside binding.js. Exits 1 on a mismatch.
import { createRequire } from 'node:module'

const tk = createRequire(import.meta.url)('../dist/index.js')
const cpu = tk.backends().cpu
if (!cpu.available) {
  console.error(`smoke-native: no native addon for ${process.platform}-${process.arch}: ${cpu.reason}`)
  process.exit(1)
}
let s = 12345
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), Math.round((s / 2 ** 32 - 0.5) * 8))
const m = (rows, cols) => ({ data: Float32Array.from({ length: rows * cols }, rnd), rows, cols })
const x = m(37, 5)
const q = m(11, 5)
const labels = Array.from({ length: 37 }, (_, i) => i % 4)
const close = (a, b) => Math.abs(a - b) <= 1e-4 * (1 + Math.abs(a) + Math.abs(b))
const same = (a, b, path = 'result') => {
  if (typeof a === 'number') { if (!close(a, b)) throw new Error(`${path}: ${a} vs ${b}`); return }
  if (typeof a === 'function' || a === undefined || a === null) return
  if (ArrayBuffer.isView(a)) { if (a.length !== b.length) throw new Error(`${path}: length`); a.forEach((v, i) => same(v, b[i], `${path}[${i}]`)); return }
  for (const k of Object.keys(a)) same(a[k], b[k], `${path}.${k}`)
}
const ops = {
  pairwiseDistances: (device) => tk.pairwiseDistancesSync(x, q, { device }),
  knn: (device) => tk.knnSync(q, x, { k: 5, device }),
  mineTriplets: (device) => tk.mineTripletsSync(x, labels, { strategy: 'semihard', margin: 2, device }),
  tripletLoss: (device) => tk.tripletLossSync(x, labels, { mining: 'batch-hard', device }),
  tripletMarginLoss: (device) => tk.tripletMarginLossSync(q, q, m(11, 5), { device }),
  retrievalMetrics: (device) => tk.retrievalMetricsSync(x, labels, { device }),
  contrastiveLoss: (device) => tk.contrastiveLossSync(x, labels, { device }),
  multipleNegativesRankingLoss: (device) => tk.multipleNegativesRankingLossSync(q, q, { similarity: 'dot', scale: 0.1, device }),
}
for (const [name, run] of Object.entries(ops)) same(run('cpu'), run('js'), name)
console.log(`smoke-native: ${Object.keys(ops).length} ops agree with the js reference on ${process.platform}-${process.arch} (${cpu.threads} threads)`)
