// Aborting a call stops its native task: the TypeScript layer raises the task's CancelToken,
// and the task skips its remaining blocks and rejects with ERR_TRIPLETKIT_CANCELLED. Checked at
// the binding, where a token raised before the task runs must make every op reject without a
// result, and a token raised while the task runs (seen from its progress) must stop it early.
import test from 'ava'
import path from 'node:path'
import { knn, matrix } from '../index'
import type { NativeBinding } from '../src/backend'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(__dirname, '..', 'binding.js')) as NativeBinding
type Token = InstanceType<NativeBinding['CancelToken']>

const x = new Float32Array([0, 1, 3, 6])
const labels = new Int32Array([0, 0, 1, 1])
const metric = { metric: 'euclidean', normalize: false } as const
const index = new binding.KnnIndex(x, 4, 1, metric)
const calls: Record<string, (token?: Token) => Promise<unknown>> = {
  pairwiseDistancesAsync: (t) => binding.pairwiseDistancesAsync(x, 4, null, 0, 1, metric, t),
  knnAsync: (t) => binding.knnAsync(x, 4, x, 4, 1, metric, { k: 1 }, t),
  'KnnIndex.searchAsync': (t) => index.searchAsync(x, 4, { k: 1 }, t),
  mineTripletsAsync: (t) => binding.mineTripletsAsync(x, 4, 1, labels, { ...metric, strategy: 'all', margin: 0.2, maxTriplets: 100 }, null, null, null, t),
  tripletLossAsync: (t) => binding.tripletLossAsync(x, 4, 1, labels, { ...metric, strategy: 'batch-hard' }, null, null, null, null, t),
  tripletMarginLossAsync: (t) => binding.tripletMarginLossAsync(x, x, x, 4, 1, metric, t),
  retrievalMetricsAsync: (t) => binding.retrievalMetricsAsync(x, 4, labels, null, 0, null, 1, { ...metric, k: 2 }, t),
  contrastiveLossAsync: (t) => binding.contrastiveLossAsync(x, 4, 1, labels, metric, t),
  multipleNegativesRankingLossAsync: (t) => binding.multipleNegativesRankingLossAsync(x, x, 4, x, 4, 1, { similarity: 'dot' }, t),
  ladderLossAsync: (t) => binding.ladderLossAsync(x, x, new Float32Array(16).fill(0.5), 4, 4, 1, { thresholds: [0.4], margins: [0.1] }, t),
  oasisStepsAsync: (t) => binding.oasisStepsAsync(x, 4, 1, labels, Float64Array.of(1), { c: 0.1, steps: 10, state: 0 }, t),
  verificationMetricsAsync: (t) => binding.verificationMetricsAsync(x, x.slice().reverse(), 4, 1, Uint8Array.of(1, 0, 1, 0), metric, t),
}

for (const [name, call] of Object.entries(calls)) {
  test(`${name}: a cancelled token rejects with ERR_TRIPLETKIT_CANCELLED; a fresh one resolves`, async (t) => {
    const cancelled = new binding.CancelToken()
    cancelled.cancel()
    t.true(cancelled.cancelled)
    await t.throwsAsync(call(cancelled), { code: 'ERR_TRIPLETKIT_CANCELLED', message: 'the operation was cancelled' })
    const fresh = new binding.CancelToken()
    t.false(fresh.cancelled)
    await t.notThrowsAsync(call(fresh))
    await t.notThrowsAsync(call(undefined))
  })
}

/** Waits on the event loop until `done()` holds, for at most `ms`. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 1))
  return done()
}

// Each op runs long enough (about a hundred blocks of 64 rows, each a 64 × 6000 × 256 GEMM or
// more, so seconds of work on two cores and still tens of milliseconds on many) that it is
// still running when the first block reports progress; the token is raised then, from
// JavaScript, while the task is in native code. It must reject with the cancelled code having
// done only part of its rows.
const n = 6000
const d = 256
const big = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37))
const bigLabels = Int32Array.from({ length: n }, (_, i) => i % 50)
const running: Record<string, (t: Token) => Promise<unknown>> = {
  // 4000 × 4000 keeps the distance matrix itself at 64 MB.
  pairwiseDistancesAsync: (t) => binding.pairwiseDistancesAsync(big.subarray(0, 4000 * d), 4000, null, 0, d, metric, t),
  knnAsync: (t) => binding.knnAsync(big, n, big, n, d, metric, { k: 10 }, t),
  'KnnIndex.searchAsync': (t) => new binding.KnnIndex(big, n, d, metric).searchAsync(big, n, { k: 10 }, t),
  mineTripletsAsync: (t) => binding.mineTripletsAsync(big, n, d, bigLabels, { ...metric, strategy: 'batch-semihard' }, null, null, null, t),
  retrievalMetricsAsync: (t) => binding.retrievalMetricsAsync(big, n, bigLabels, null, 0, null, d, metric, t),
}

for (const [name, call] of Object.entries(running)) {
  test(`${name}: a token raised while the task runs stops it part way`, async (t) => {
    const token = new binding.CancelToken()
    const pending = call(token).then(() => 'resolved', (e: { code?: string }) => e.code)
    t.true(await until(() => token.done > 0, 60_000), 'the task reported progress')
    token.cancel()
    t.is(await pending, 'ERR_TRIPLETKIT_CANCELLED')
    t.true(token.done < token.total, `stopped after ${token.done} of ${token.total} rows`)
  })
}

test('an aborted knn still rejects with AbortError, and the process stays usable', async (t) => {
  const rows = 3000
  const data = Float32Array.from({ length: rows * 32 }, (_, i) => Math.sin(i))
  const m = matrix(data, rows, 32)
  const controller = new AbortController()
  const pending = knn(m, m, { k: 5, device: 'cpu', signal: controller.signal })
  controller.abort()
  const err = await pending.then(() => undefined, (e: unknown) => e)
  t.true(err instanceof DOMException && err.name === 'AbortError', String(err))
  const small = await knn([[0], [1]], [[0], [1]], { k: 1, device: 'cpu' })
  t.deepEqual(Array.from(small.indices), [0, 1])
})
