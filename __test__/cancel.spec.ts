// Aborting a call stops its native task: the TypeScript layer raises the task's CancelToken,
// and the task skips its remaining blocks and rejects. Checked at the binding, where a token
// raised before the task runs must make every op reject without a result.
import test from 'ava'
import path from 'node:path'
import { knn, matrix } from '../index'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(__dirname, '..', 'binding.js'))

const x = new Float32Array([0, 1, 3, 6])
const labels = new Int32Array([0, 0, 1, 1])
const metric = { metric: 'euclidean', normalize: false }
const calls: Record<string, (token: unknown) => Promise<unknown>> = {
  pairwiseDistancesAsync: (t) => binding.pairwiseDistancesAsync(x, 4, null, 0, 1, metric, t),
  knnAsync: (t) => binding.knnAsync(x, 4, x, 4, 1, { ...metric, k: 1, excludeSelf: false, queryOffset: 0 }, t),
  mineTripletsAsync: (t) => binding.mineTripletsAsync(x, 4, 1, labels, { ...metric, strategy: 'all', margin: 0.2, maxTriplets: 100 }, t),
  tripletLossAsync: (t) => binding.tripletLossAsync(x, 4, 1, labels,
    { ...metric, strategy: 'batch-hard', margin: 0.2, softMargin: false, swap: false, reduction: 'mean', maxTriplets: 100 }, t),
  tripletMarginLossAsync: (t) => binding.tripletMarginLossAsync(x, x, x, 4, 1,
    { ...metric, margin: 0.2, softMargin: false, swap: false, reduction: 'mean' }, t),
  retrievalMetricsAsync: (t) => binding.retrievalMetricsAsync(x, 4, labels, null, 0, null, 1, { ...metric, k: 2 }, t),
}

for (const [name, call] of Object.entries(calls)) {
  test(`${name}: a cancelled token rejects with Cancelled; a fresh one resolves`, async (t) => {
    const cancelled = new binding.CancelToken()
    cancelled.cancel()
    t.true(cancelled.cancelled)
    await t.throwsAsync(call(cancelled), { message: /^Cancelled: / })
    const fresh = new binding.CancelToken()
    t.false(fresh.cancelled)
    await t.notThrowsAsync(call(fresh))
    await t.notThrowsAsync(call(undefined))
  })
}

test('an aborted knn still rejects with AbortError, and the process stays usable', async (t) => {
  const n = 3000
  const data = Float32Array.from({ length: n * 32 }, (_, i) => Math.sin(i))
  const m = matrix(data, n, 32)
  const controller = new AbortController()
  const pending = knn(m, m, { k: 5, device: 'cpu', signal: controller.signal })
  controller.abort()
  const err = await pending.then(() => undefined, (e: unknown) => e)
  t.true(err instanceof DOMException && err.name === 'AbortError', String(err))
  const small = await knn([[0], [1]], [[0], [1]], { k: 1, device: 'cpu' })
  t.deepEqual(Array.from(small.indices), [0, 1])
})
