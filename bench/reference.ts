/**
 * The native CPU backend against the pure-TypeScript reference ('js'), op by op, on the same
 * inputs in the same run: median of 3 timed runs after one warm-up, and their ratio.
 *
 *   npm run bench:reference            # N = 2048, d = 128
 *   npm run bench:reference -- 4096 64 # N, d
 */
import { backends, knnSync, matrix, mineTripletsSync, pairwiseDistancesSync, retrievalMetricsSync, tripletLossSync, type Device } from '../index'

const n = Number(process.argv[2] ?? 2048)
const d = Number(process.argv[3] ?? 128)
const classes = Math.max(2, Math.floor(n / 32))

// A seeded stream (mulberry32), so every run times the same data.
let seed = 42
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const x = matrix(Float32Array.from({ length: n * d }, () => random() * 2 - 1), n, d)
const labels = Int32Array.from({ length: n }, (_, i) => i % classes)

const ops: Record<string, (device: Device) => unknown> = {
  'pairwiseDistances': (device) => pairwiseDistancesSync(x, undefined, { device }),
  'knn k=10 excludeSelf': (device) => knnSync(x, x, { k: 10, excludeSelf: true, device }),
  'mineTriplets batch-hard': (device) => mineTripletsSync(x, labels, { strategy: 'batch-hard', device }),
  'tripletLoss batch-hard': (device) => tripletLossSync(x, labels, { mining: 'batch-hard', device }),
  'tripletLoss batch-semihard': (device) => tripletLossSync(x, labels, { mining: 'batch-semihard', device }),
  'retrievalMetrics': (device) => retrievalMetricsSync(x, labels, { device }),
}

function median(f: () => unknown): number {
  f()
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint()
    f()
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return times.sort((a, b) => a - b)[1]
}

console.log(`N = ${n}, d = ${d}, ${classes} classes, ${backends().cpu.threads} CPU threads; median of 3 runs, ms`)
console.log(`${'op'.padEnd(28)} ${'js'.padStart(10)} ${'cpu'.padStart(10)} ${'js / cpu'.padStart(9)}`)
for (const [name, run] of Object.entries(ops)) {
  const js = median(() => run('js'))
  const cpu = median(() => run('cpu'))
  console.log(`${name.padEnd(28)} ${js.toFixed(1).padStart(10)} ${cpu.toFixed(1).padStart(10)} ${(js / cpu).toFixed(0).padStart(8)}×`)
}
