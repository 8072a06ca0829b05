/**
 * The seven ways an input, a size or a shutdown used to kill, hang or fool the process, one
 * test each (RELIABILITY.md). Cases that could crash run in a child process.
 */
import test from 'ava'
import { Worker } from 'node:worker_threads'
import {
  contrastiveLossSync, knnSync, mineTripletsSync, pairwiseDistancesSync, retrievalMetricsSync, tripletLossSync, tripletMarginLossSync,
  type Matrix,
} from '../index'
import { loadNative } from '../src/native'
import { REPORT, root, runChild } from './helpers/child'
import { DEVICES } from './helpers/devices'

interface Reported { ok: boolean; name?: string; code?: string; message?: string; r?: unknown }

/** A resizable ArrayBuffer (ES2024; the type library here is older). */
function resizable(bytes: number, maxByteLength: number): ArrayBuffer {
  return new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(bytes, { maxByteLength })
}

function seededMatrix(rows: number, cols: number, seed = 1): Matrix {
  let s = seed >>> 0
  const data = new Float32Array(rows * cols).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  })
  return { data, rows, cols }
}

// 1. The js device built set strategies in plain arrays, which V8 caps at about 112M elements.
test('js: set mining past V8\'s array limit is refused with a RangeError, not a fatal error', (t) => {
  const child = runChild(`${REPORT}
    const rows = 800, cols = 4
    const x = { data: new Float32Array(rows * cols).map((_, i) => Math.sin(i)), rows, cols }
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 2)
    // 800 rows of two classes: 127,680,000 triplets, more than a plain array can hold.
    report(() => tk.mineTripletsSync(x, labels, { strategy: 'all', device: 'js', maxTriplets: 120_000_000 }).length)
  `, { timeoutMs: 120_000 })
  t.is(child.signal, null, child.stderr)
  t.is(child.status, 0, child.stderr)
  const r = child.json as Reported
  t.like(r, { ok: false, name: 'RangeError', code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS' })
})

test('js: a set of more triplets than a plain array holds is built in typed arrays', (t) => {
  const child = runChild(`${REPORT}
    const rows = 800, cols = 4
    const x = { data: new Float32Array(rows * cols).map((_, i) => Math.sin(i)), rows, cols }
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 2)
    report(() => {
      const m = tk.mineTripletsSync(x, labels, { strategy: 'all', device: 'js' })
      return [m.length, m.anchor[m.length - 1], m.positive[m.length - 1], m.negative[m.length - 1]]
    })
  `, { timeoutMs: 120_000 })
  t.is(child.status, 0, child.stderr)
  // 400 anchors × 399 positives × 400 negatives per class; the last is (799, 797, 798).
  t.deepEqual((child.json as Reported).r, [127_680_000, 799, 797, 798])
})

// 2. A refused request must cost nothing: set mining used to fill up to maxTriplets first.
test('cpu: set mining that will be refused allocates nothing first', (t) => {
  const child = runChild(`${REPORT}
    const rows = 3000, cols = 8
    const x = { data: new Float32Array(rows * cols).map((_, i) => Math.sin(i * 7.1)), rows, cols }
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 2)
    const before = process.resourceUsage().maxRSS
    report(() => tk.mineTripletsSync(x, labels, { strategy: 'violating', device: 'cpu', maxTriplets: 400_000_000 }).length)
    console.log(JSON.stringify({ grew: process.resourceUsage().maxRSS - before }))
  `, { timeoutMs: 120_000 })
  t.is(child.status, 0, child.stderr)
  const lines = child.stdout.trim().split('\n')
  t.like(JSON.parse(lines[lines.length - 2]) as Reported, { ok: false, name: 'RangeError', code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS' })
  const { grew } = child.json as { grew: number }
  t.log(`peak RSS grew ${(grew / 1024).toFixed(0)} MB`)
  // 400M triplets would be 4.8 GB; the counting pass needs a few rows of distances.
  t.true(grew < 200 * 1024, `peak RSS grew ${(grew / 1024).toFixed(0)} MB`)
})

test('the memory guard counts what this process can still allocate, not half the machine', (t) => {
  const native = loadNative()
  if (!native.ok) return t.pass('no native addon')
  const { available, reserved } = native.binding.memoryBudget() as { available: number; reserved: number }
  t.true(available > 0 && reserved >= 0)
  // Pairs that need just over half the headroom (20 bytes each): refused with a coded
  // RangeError, before any allocation.
  const rows = Math.ceil(Math.sqrt((available / 2 + 2 ** 28) / 20))
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 2)
  const err = t.throws(() => contrastiveLossSync({ data: new Float32Array(rows), rows, cols: 1 }, labels), { instanceOf: RangeError })
  t.is((err as { code?: string }).code, 'ERR_TRIPLETKIT_OUT_OF_MEMORY')
  t.regex(err.message, /this process can still allocate/)
})

// 3. Native async work ran on the libuv pool, which Node joins at exit and at worker teardown.
// About 15 s of batch-hard mining on 2 cores.
const LONG_MINING = `
  const rows = 30000, cols = 512
  const x = { data: new Float32Array(rows * cols).map((_, i) => (i * 2654435761 % 1000) / 1000), rows, cols }
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 100)
  const work = () => tk.mineTriplets(x, labels, { strategy: 'batch-hard', device: 'cpu' })
`

test('process.exit() while native mining runs returns at once', (t) => {
  const child = runChild(`${LONG_MINING}
    const started = Date.now()
    work().then(() => console.log('finished first'))
    setTimeout(() => {
      const t0 = Date.now()
      process.on('exit', () => console.log(JSON.stringify({ exitAfter: t0 - started })))
      process.exit(0)
    }, 200)
  `, { timeoutMs: 60_000 })
  t.is(child.status, 0, child.stderr)
  t.false(child.stdout.includes('finished first'), 'the mining should still have been running')
  t.log(`child ran ${child.ms} ms in all`)
  // The mining alone takes over 10 s here; the child's own start-up takes about 1 s.
  t.true(child.ms < 8000, `exit took the child to ${child.ms} ms`)
})

test('worker.terminate() while native mining runs returns at once', async (t) => {
  const worker = new Worker(`
    require('tsx/cjs')
    const tk = require(${JSON.stringify(`${root}/index.ts`)})
    ${LONG_MINING}
    work()
    require('node:worker_threads').parentPort.postMessage('started')
  `, { eval: true })
  await new Promise((resolve) => worker.once('message', resolve))
  await new Promise((resolve) => setTimeout(resolve, 200))
  const t0 = Date.now()
  await worker.terminate()
  const ms = Date.now() - t0
  t.log(`terminate took ${ms} ms`)
  t.true(ms < 3000, `terminate took ${ms} ms`)
})

// 4. The top-k kept a sorted list with shifting inserts: O(k) per candidate.
test('knn with k close to the corpus size is not quadratic in k', (t) => {
  const child = runChild(`
    const rows = 400_001
    const corpus = { data: new Float32Array(rows).map((_, i) => (i * 7919) % rows), rows, cols: 1 }
    const query = { data: new Float32Array([200_000]), rows: 1, cols: 1 }
    const t0 = Date.now()
    const r = tk.knnSync(query, corpus, { k: 400_000, device: 'cpu' })
    console.log(JSON.stringify({ ms: Date.now() - t0, first: r.distances[0], last: r.distances[399_999] }))
  `, { timeoutMs: 60_000 })
  t.is(child.status, 0, child.stderr)
  const { ms, first, last } = child.json as { ms: number; first: number; last: number }
  t.is(first, 0)
  // The farthest kept value is 0 or 400,000 (a tie: the lower index stays), 200,000 away.
  t.true(Math.abs(last - 200_000) < 1, String(last))
  t.log(`k = 400,000 took ${ms} ms`)
  // A sorted list took about 8 s here; a heap takes tens of milliseconds.
  t.true(ms < 3000, `${ms} ms`)
})

// 5. Inputs must not change between their check and their use.
for (const device of DEVICES) {
  test(`[${device}] an option getter that writes NaN into the matrix cannot get past the check`, (t) => {
    const x = seededMatrix(6, 3)
    const opts = { device, get metric() { x.data[4] = NaN; return 'euclidean' as const } }
    t.throws(() => pairwiseDistancesSync(x, null, opts), { instanceOf: RangeError, message: /a: expected finite numbers, received NaN at row 1, column 1/ })
  })

  test(`[${device}] an option getter that edits the labels: the call uses the edited labels throughout`, (t) => {
    const x = seededMatrix(8, 3)
    const labels = Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3])
    const opts = { device, strategy: 'all' as const, get margin() { labels[7] = 0; return 0.2 } }
    const mined = mineTripletsSync(x, labels, opts)
    t.deepEqual(mined, mineTripletsSync(x, Int32Array.from([0, 0, 1, 1, 2, 2, 3, 0]), { device, strategy: 'all', margin: 0.2 }))
  })

  test(`[${device}] an option getter that makes a given triplet's anchor its positive is a RangeError`, (t) => {
    const x = seededMatrix(4, 2)
    const mining = { anchor: Int32Array.from([0]), positive: Int32Array.from([1]), negative: Int32Array.from([2]) }
    const opts = { device, mining, get margin() { mining.anchor[0] = 1; return 0.2 } }
    t.throws(() => tripletLossSync(x, [0, 0, 1, 1], opts), { instanceOf: RangeError, message: /expected anchor ≠ positive/ })
  })

  test(`[${device}] typed arrays that lie, are detached, shrink or are shared`, (t) => {
    const lying = Object.defineProperty(new Float32Array(4), 'length', { value: 6 })
    t.throws(() => pairwiseDistancesSync({ data: lying, rows: 3, cols: 2 }, null, { device }), { instanceOf: RangeError, message: /received length 4/ })

    const detached = new Float32Array(6)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    t.throws(() => pairwiseDistancesSync({ data: detached, rows: 3, cols: 2 }, null, { device }), { instanceOf: RangeError, message: /detached/ })

    const buffer = resizable(24, 48)
    const tracking = new Float32Array(buffer)
    ;(buffer as ArrayBuffer & { resize(n: number): void }).resize(16)
    t.throws(() => pairwiseDistancesSync({ data: tracking, rows: 3, cols: 2 }, null, { device }), { instanceOf: RangeError, message: /received length 4/ })
    const growable = new Float32Array(resizable(24, 48)).fill(1)
    t.deepEqual(pairwiseDistancesSync({ data: growable, rows: 3, cols: 2 }, null, { device }).data, new Float32Array(9))

    const shared = new Float32Array(new SharedArrayBuffer(6 * 4)).map((_, i) => i)
    const plain = Float32Array.from(shared)
    t.deepEqual(pairwiseDistancesSync({ data: shared, rows: 3, cols: 2 }, null, { device }), pairwiseDistancesSync({ data: plain, rows: 3, cols: 2 }, null, { device }))
    const sharedLabels = new Int32Array(new SharedArrayBuffer(12)).map((_, i) => i % 2)
    t.deepEqual(mineTripletsSync({ data: plain, rows: 3, cols: 2 }, sharedLabels, { device, strategy: 'all' }),
      mineTripletsSync({ data: plain, rows: 3, cols: 2 }, [0, 1, 0], { device, strategy: 'all' }))
  })
}

// 6. Unknown options were ignored.
test('a misspelt option is a TypeError that names it and suggests the real one', (t) => {
  const x = seededMatrix(4, 2)
  t.throws(() => tripletMarginLossSync(x, x, x, { margn: 0.5 } as never), { instanceOf: TypeError, message: "opts.margn: expected no option of this name, received one; did you mean 'margin'?" })
  t.throws(() => knnSync(x, x, { k: 1, excludeself: true } as never), { instanceOf: TypeError, message: /opts\.excludeself: .*did you mean 'excludeSelf'\?/ })
  t.throws(() => retrievalMetricsSync(x, [0, 0, 1, 1], { fromTheFuture: 1 } as never), { instanceOf: TypeError, message: /opts\.fromTheFuture: expected no option of this name, received one; the options are metric, normalize, device, signal, maxMemory, reference, referenceLabels, k/ })
})

// 7. Node frees napi-rs' external result buffers only on a later turn of the event loop.
test('55,000 small calls in a loop that never yields leave the process under 32 MB bigger', (t) => {
  const child = runChild(`
    const x = { data: new Float32Array(30 * 16).map((_, i) => Math.sin(i)), rows: 30, cols: 16 }
    const labels = Int32Array.from({ length: 30 }, (_, i) => i % 3)
    const mix = [
      () => tk.pairwiseDistancesSync(x),
      () => tk.tripletLossSync(x, labels),
      () => tk.knnSync(x, x, { k: 3 }),
      () => tk.mineTripletsSync(x, labels, { strategy: 'semihard' }),
      () => tk.retrievalMetricsSync(x, labels),
    ]
    for (let i = 0; i < 1000; i++) mix[i % mix.length]()
    global.gc()
    const before = process.memoryUsage().rss
    for (let i = 0; i < 55_000; i++) mix[i % mix.length]()
    global.gc()
    console.log(JSON.stringify({ grew: process.memoryUsage().rss - before }))
  `, { timeoutMs: 240_000, env: { ...process.env, NODE_OPTIONS: '--expose-gc' } })
  t.is(child.status, 0, child.stderr)
  const { grew } = child.json as { grew: number }
  t.log(`RSS grew ${(grew / 2 ** 20).toFixed(1)} MB over 55,000 calls`)
  t.true(grew < 32 * 2 ** 20, `${(grew / 2 ** 20).toFixed(1)} MB`)
})

// Determinism and thread safety, which RELIABILITY.md promises.
const FINGERPRINT = `
  const n = 301, d = 17
  let s = 7
  const data = new Float32Array(n * d).map(() => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5 })
  const x = { data, rows: n, cols: d }
  const labels = Int32Array.from({ length: n }, (_, i) => i % 11)
  const parts = [
    tk.pairwiseDistancesSync(x, null, { device: 'cpu' }).data,
    tk.tripletLossSync(x, labels, { mining: 'batch-hard', device: 'cpu' }).grad.data,
    tk.tripletLossSync(x, labels, { mining: 'semihard', device: 'cpu' }).grad.data,
    tk.contrastiveLossSync(x, labels, { device: 'cpu' }).grad.data,
    tk.knnSync(x, x, { k: 9, device: 'cpu' }).distances,
  ]
  const hash = require('node:crypto').createHash('sha256')
  for (const p of parts) hash.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
  const fingerprint = hash.digest('hex')
`

test('results are bit-for-bit the same whatever the thread count', (t) => {
  const run = (threads: string): unknown => {
    const child = runChild(`${FINGERPRINT}\nconsole.log(JSON.stringify({ fingerprint, threads: require(${JSON.stringify(`${root}/binding.js`)}).backends().cpu.threads }))`,
      { env: { ...process.env, RAYON_NUM_THREADS: threads } })
    t.is(child.status, 0, child.stderr)
    return child.json
  }
  const one = run('1') as { fingerprint: string; threads: number }
  const three = run('3') as { fingerprint: string; threads: number }
  t.deepEqual([one.threads, three.threads], [1, 3])
  t.is(one.fingerprint, three.fingerprint)
})

test('calls from several workers at once give the answers the main thread gets', async (t) => {
  const mainChild = runChild(`${FINGERPRINT}\nconsole.log(JSON.stringify({ fingerprint }))`)
  t.is(mainChild.status, 0, mainChild.stderr)
  const expected = (mainChild.json as { fingerprint: string }).fingerprint
  const workers = [0, 1, 2, 3].map(() => new Worker(`
    require('tsx/cjs')
    const tk = require(${JSON.stringify(`${root}/index.ts`)})
    const { parentPort } = require('node:worker_threads')
    const seen = new Set()
    for (let round = 0; round < 5; round++) {
      ${FINGERPRINT}
      seen.add(fingerprint)
    }
    parentPort.postMessage([...seen])
  `, { eval: true }))
  const results = await Promise.all(workers.map((w) => new Promise<string[]>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })))
  await Promise.all(workers.map((w) => w.terminate()))
  t.deepEqual(results, [[expected], [expected], [expected], [expected]])
})
