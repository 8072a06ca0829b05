import test, { type ExecutionContext } from 'ava'
import * as tk from '../index'
import { DEVICES, type TestDevice } from './helpers/devices'
import { gaussianRows, makeLabels } from './helpers/data'
import { Rng } from './helpers/prng'

const rng = new Rng(90)
const X = gaussianRows(rng, 60, 8)
const Y = makeLabels(rng, 60, 'few')
const A = gaussianRows(rng, 20, 8)
const P = gaussianRows(rng, 20, 8)
const N = gaussianRows(rng, 20, 8)

/** Each async function with its Sync twin and arguments (options last, without device). */
const CALLS: { name: string; run: (device: TestDevice, extra?: object) => [unknown, () => Promise<unknown>] }[] = [
  { name: 'pairwiseDistances', run: (device, extra = {}) => [tk.pairwiseDistancesSync(X, A, { device }), () => tk.pairwiseDistances(X, A, { device, ...extra })] },
  { name: 'knn', run: (device, extra = {}) => [tk.knnSync(X, X, { k: 5, excludeSelf: true, device }), () => tk.knn(X, X, { k: 5, excludeSelf: true, device, ...extra })] },
  ...(['all', 'semihard', 'batch-hard', 'batch-semihard'] as const).map((strategy) => ({
    name: `mineTriplets ${strategy}`,
    run: (device: TestDevice, extra = {}): [unknown, () => Promise<unknown>] => [
      tk.mineTripletsSync(X, Y, { strategy, margin: 0.5, device }),
      () => tk.mineTriplets(X, Y, { strategy, margin: 0.5, device, ...extra }),
    ],
  })),
  { name: 'tripletLoss', run: (device, extra = {}) => [tk.tripletLossSync(X, Y, { swap: true, device }), () => tk.tripletLoss(X, Y, { swap: true, device, ...extra })] },
  { name: 'tripletMarginLoss', run: (device, extra = {}) => [tk.tripletMarginLossSync(A, P, N, { margin: 1, device }), () => tk.tripletMarginLoss(A, P, N, { margin: 1, device, ...extra })] },
  { name: 'retrievalMetrics', run: (device, extra = {}) => [tk.retrievalMetricsSync(X, Y, { k: 3, device }), () => tk.retrievalMetrics(X, Y, { k: 3, device, ...extra })] },
]

async function assertAbortError(t: ExecutionContext, p: Promise<unknown>, what: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.true(err instanceof DOMException, `${what}: expected a DOMException, got ${String(err)}`)
  t.is((err as DOMException | undefined)?.name, 'AbortError', what)
}

for (const device of DEVICES) {
  for (const c of CALLS) {
    test(`[${device}] ${c.name}: the Promise resolves to what the Sync twin returns`, async (t) => {
      const [sync, start] = c.run(device)
      const p = start()
      t.true(p instanceof Promise)
      t.deepEqual(await p, sync)
    })

    test(`[${device}] ${c.name}: an already aborted signal rejects with an AbortError`, async (t) => {
      const [, start] = c.run(device, { signal: AbortSignal.abort() })
      let p: Promise<unknown> | undefined
      t.notThrows(() => {
        p = start()
      })
      await assertAbortError(t, p!, c.name)
    })

    test(`[${device}] ${c.name}: aborting before the promise settles rejects with an AbortError`, async (t) => {
      const controller = new AbortController()
      const [, start] = c.run(device, { signal: controller.signal })
      const p = start()
      controller.abort()
      await assertAbortError(t, p, c.name)
    })

    test(`[${device}] ${c.name}: a signal that never aborts changes nothing`, async (t) => {
      const [sync, start] = c.run(device, { signal: new AbortController().signal })
      t.deepEqual(await start(), sync)
    })
  }

  test(`[${device}] many calls in flight at once all give the Sync answers`, async (t) => {
    const runs = CALLS.flatMap((c) => [c.run(device), c.run(device)])
    const results = await Promise.all(runs.map(([, start]) => start()))
    results.forEach((r, i) => t.deepEqual(r, runs[i][0], CALLS[i >> 1].name))
  })

  test(`[${device}] batched knn reports progress (done, total) rising to total`, async (t) => {
    const q = gaussianRows(rng, 205, 8)
    const calls: [number, number][] = []
    const r = await tk.knn(q, X, { k: 3, batchSize: 20, device, onProgress: (done, total) => calls.push([done, total]) })
    t.deepEqual(r, tk.knnSync(q, X, { k: 3, device }))
    t.true(calls.length >= 2, `onProgress called ${calls.length} times`)
    const total = calls[0][1]
    t.true(total > 0)
    for (let i = 0; i < calls.length; i++) {
      t.is(calls[i][1], total, 'total never changes')
      if (i > 0) t.true(calls[i][0] > calls[i - 1][0], `done rises: ${calls.map((c) => c[0])}`)
      t.true(calls[i][0] <= total)
    }
    t.is(calls[calls.length - 1][0], total, 'the last call reports done = total')
  })

  test(`[${device}] aborting a batched knn mid-way rejects with an AbortError and launches no more batches`, async (t) => {
    const q = gaussianRows(rng, 400, 8)
    const controller = new AbortController()
    const seen: number[] = []
    const p = tk.knn(q, X, {
      k: 3,
      batchSize: 10,
      device,
      signal: controller.signal,
      onProgress: (done) => {
        seen.push(done)
        if (seen.length === 2) controller.abort()
      },
    })
    await assertAbortError(t, p, 'knn')
    // Drain anything still queued: no batch after the abort may report progress again beyond the
    // one already running.
    await new Promise((resolve) => setImmediate(resolve))
    t.true(seen.length <= 3, `onProgress called ${seen.length} times after aborting at the 2nd of 40 batches`)
    t.true(seen[seen.length - 1] < 400)
  })
}

test('[cpu] async work runs off the main thread: the event loop turns while it computes', async (t) => {
  const r2 = new Rng(91)
  const q = { data: Float32Array.from({ length: 4000 * 64 }, () => r2.gauss()), rows: 4000, cols: 64 }
  const c = { data: Float32Array.from({ length: 20000 * 64 }, () => r2.gauss()), rows: 20000, cols: 64 }
  const p = tk.knn(q, c, { k: 10, device: 'cpu' }).then(() => 'done')
  const tick = new Promise((resolve) => setImmediate(() => resolve('tick')))
  t.is(await Promise.race([p, tick]), 'tick')
  t.is(await p, 'done')
})
