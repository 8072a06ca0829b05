/**
 * knn's cost of batching: the same search with the default batch size and in one batch, in the
 * same run, and their ratio. The corpus is prepared once per call, so batches should cost
 * next to nothing over one large call.
 *
 *   npm run bench:knn                          # 8192 queries × 200,000 corpus × 128, k = 10
 *   npm run bench:knn -- 2048 50000 64         # queries, corpus, d
 */
import { knn, matrix } from '../index'

const [q, c, d] = [Number(process.argv[2] ?? 8192), Number(process.argv[3] ?? 200_000), Number(process.argv[4] ?? 128)]

// A seeded stream (mulberry32), so every run times the same data.
let seed = 7
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const queries = matrix(Float32Array.from({ length: q * d }, () => random() - 0.5), q, d)
const corpus = matrix(Float32Array.from({ length: c * d }, () => random() - 0.5), c, d)

async function time(batchSize: number | undefined): Promise<number> {
  const t0 = performance.now()
  let batches = 0
  await knn(queries, corpus, { k: 10, batchSize, onProgress: () => batches++ })
  const s = (performance.now() - t0) / 1000
  console.log(`${batchSize === undefined ? 'default batches' : `one batch`.padEnd(15)}  ${batches} call(s)  ${s.toFixed(2)} s`)
  return s
}

async function main(): Promise<void> {
  console.log(`knn ${q} queries × ${c} corpus × ${d}, k = 10, device 'auto'`)
  const batched = await time(undefined)
  const whole = await time(q)
  console.log(`default batches / one batch: ${(batched / whole).toFixed(3)}×`)
}

void main()
