/**
 * Shape invariance (docs/SEMANTICS.md): the distance of a (query, corpus row) pair is a function
 * of those two rows, the metric and `normalize` alone, to the bit. Every distance of one big
 * call is compared, bit for bit, with the same pair computed alone, in other batches, with the
 * rows permuted, inside a knn over a slice of the corpus, under a small memory budget, off the
 * main thread, and (cpu) on one thread in another process.
 */
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { knn, knnSync, mineHardNegativesSync, pairwiseDistances, pairwiseDistancesSync, type Matrix, type Metric } from '../index'
import { runChild } from './helpers/child'
import { DEVICES } from './helpers/devices'
import { gaussianRows, type Rows } from './helpers/data'
import { METRICS } from './helpers/oracle'
import { Rng } from './helpers/prng'

/** Each float32's bits, so that −0 and +0 (and NaN payloads) count as different. */
const bits = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)

/** Fails at the first cell whose bits differ, naming it. */
function sameBits(t: ExecutionContext, got: Float32Array, want: Float32Array, what: string): void {
  t.is(got.length, want.length, `${what}: length`)
  const g = bits(got)
  const w = bits(want)
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) {
      t.fail(`${what}: cell ${i} is ${got[i]} (0x${g[i].toString(16)}), expected ${want[i]} (0x${w[i].toString(16)})`)
      return
    }
  }
  t.pass()
}

/** Sine rows: row i, column c = sin(0.37·i + 1.3·c) (smooth data where close candidates are common). */
function sineRows(rows: number, cols: number, phase: number): Rows {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, c) => Math.fround(Math.sin(0.37 * (i + phase) + 1.3 * c))))
}

interface Case {
  queries: Rows
  corpus: Rows
  metric: Metric
  normalize: boolean
}

/** Random shapes: odd sizes, single rows, dimensions from 1 to 1,000, magnitudes over decades. */
function randomCases(seed: number, count: number): Case[] {
  const rng = new Rng(seed)
  const dims = [1, 2, 3, 7, 21, 64, 127, 129, 300, 513, 1000]
  return Array.from({ length: count }, (_, i) => {
    const d = dims[rng.int(dims.length)]
    const nq = rng.next() < 0.2 ? 1 : 1 + rng.int(d > 300 ? 20 : 70)
    const nc = rng.next() < 0.2 ? 1 : 1 + rng.int(d > 300 ? 30 : 90)
    const scale = 10 ** (rng.int(7) - 3)
    return {
      queries: gaussianRows(rng, nq, d, scale),
      corpus: gaussianRows(rng, nc, d, scale),
      metric: METRICS[i % METRICS.length],
      normalize: rng.next() < 0.25,
    }
  })
}

const CASES = randomCases(2121, 24)

/** A random permutation of 0..n−1. */
function permutation(rng: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}

/** Cell (i, j) of a row-major matrix with `cols` columns. */
const at = (m: Matrix, i: number, j: number): number => m.data[i * m.cols + j]

function describe(c: Case): string {
  return `${c.metric}${c.normalize ? ' normalized' : ''} ${c.queries.length}×${c.corpus.length}×${c.queries[0].length}`
}

/** The smallest of a few memory budgets (64 KiB up) that `call` accepts: small tiles or chunks. */
function smallestBudget(call: (maxMemory: number) => unknown): number {
  for (let m = 1 << 16; m < 1 << 24; m *= 2) {
    try {
      call(m)
      return m
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_TRIPLETKIT_OUT_OF_MEMORY') throw e
    }
  }
  throw new Error('no budget up to 16 MiB was accepted')
}

for (const device of DEVICES) {
  test(`[${device}] the issue's reproduction: 18 queries × 21 sine rows give the same bits at every batch size`, (t) => {
    const queries = sineRows(18, 21, 0.5)
    const corpus = sineRows(21, 21, 0)
    for (const metric of METRICS) {
      const whole = knnSync(queries, corpus, { k: 21, metric, device })
      for (const batchSize of [1, 2, 5, 17]) {
        const split = knnSync(queries, corpus, { k: 21, metric, device, batchSize })
        sameBits(t, split.distances, whole.distances, `${metric}, batchSize ${batchSize}: distances`)
        t.deepEqual(Array.from(split.indices), Array.from(whole.indices), `${metric}, batchSize ${batchSize}: order`)
      }
    }
  })

  for (const [n, c] of CASES.entries()) {
    test(`[${device}] case ${n} (${describe(c)}): each distance is the same bits alone, in other batches, permuted and in a slice`, (t) => {
      const opts = { metric: c.metric, normalize: c.normalize, device }
      const { queries, corpus } = c
      const [nq, nc] = [queries.length, corpus.length]
      const whole = pairwiseDistancesSync(queries, corpus, opts)
      const rng = new Rng(7 + n)

      // Alone: 1 × 1, for a sample of cells (every cell of small cases).
      const cells = nq * nc <= 64 ? nq * nc : 64
      for (let s = 0; s < cells; s++) {
        const cell = nq * nc <= 64 ? s : rng.int(nq * nc)
        const [i, j] = [Math.floor(cell / nc), cell % nc]
        const one = pairwiseDistancesSync([queries[i]], [corpus[j]], opts)
        sameBits(t, one.data, Float32Array.of(at(whole, i, j)), `(${i}, ${j}) alone`)
      }

      // Other batches: the queries in uneven pieces, each against the whole corpus.
      let start = 0
      while (start < nq) {
        const end = Math.min(nq, start + 1 + rng.int(7))
        const part = pairwiseDistancesSync(queries.slice(start, end), corpus, opts)
        sameBits(t, part.data, whole.data.subarray(start * nc, end * nc), `query rows ${start}..${end}`)
        start = end
      }

      // Permuted rows on both sides.
      const pq = permutation(rng, nq)
      const pc = permutation(rng, nc)
      const permuted = pairwiseDistancesSync(pq.map((i) => queries[i]), pc.map((j) => corpus[j]), opts)
      const want = new Float32Array(nq * nc)
      for (let a = 0; a < nq; a++) for (let b = 0; b < nc; b++) want[a * nc + b] = at(whole, pq[a], pc[b])
      sameBits(t, permuted.data, want, 'permuted rows')

      // Inside a knn over a slice of the corpus, in batches of random size.
      const s0 = rng.int(nc)
      const s1 = s0 + 1 + rng.int(nc - s0)
      const k = 1 + rng.int(s1 - s0)
      const r = knnSync(queries, corpus.slice(s0, s1), { ...opts, k, batchSize: 1 + rng.int(nq) })
      const fromWhole = new Float32Array(nq * k)
      for (let i = 0; i < nq; i++) for (let q = 0; q < k; q++) fromWhole[i * k + q] = at(whole, i, s0 + r.indices[i * k + q])
      sameBits(t, r.distances, fromWhole, `knn over corpus rows ${s0}..${s1}`)
    })
  }

  test(`[${device}] a small memory budget, the async twins and the self-distance matrix change no bit`, async (t) => {
    for (const c of CASES.slice(0, 8)) {
      const opts = { metric: c.metric, normalize: c.normalize, device }
      const whole = pairwiseDistancesSync(c.queries, c.corpus, opts)
      const k = c.corpus.length
      const loose = knnSync(c.queries, c.corpus, { ...opts, k })
      const maxMemory = smallestBudget((m) => pairwiseDistancesSync(c.queries, c.corpus, { ...opts, maxMemory: m }))
      const budget = pairwiseDistancesSync(c.queries, c.corpus, { ...opts, maxMemory })
      sameBits(t, budget.data, whole.data, `${describe(c)}: maxMemory ${maxMemory}`)
      const knnBudget = smallestBudget((m) => knnSync(c.queries, c.corpus, { ...opts, k, maxMemory: m }))
      const tight = knnSync(c.queries, c.corpus, { ...opts, k, maxMemory: knnBudget })
      sameBits(t, tight.distances, loose.distances, `${describe(c)}: knn under maxMemory ${knnBudget}`)
      const viaPromise = await pairwiseDistances(c.queries, c.corpus, opts)
      sameBits(t, viaPromise.data, whole.data, `${describe(c)}: pairwiseDistances`)
      const knnPromise = await knn(c.queries, c.corpus, { ...opts, k, batchSize: 3 })
      sameBits(t, knnPromise.distances, loose.distances, `${describe(c)}: knn`)
      // The corpus against itself, with and without the second argument.
      const self = pairwiseDistancesSync(c.corpus, undefined, opts)
      const twice = pairwiseDistancesSync(c.corpus, c.corpus, opts)
      sameBits(t, self.data, twice.data, `${describe(c)}: self-distances`)
    }
  })

  test(`[${device}] mineHardNegatives gives the same negatives and scores at every batch size`, (t) => {
    const rng = new Rng(99)
    const queries = gaussianRows(rng, 37, 48)
    const corpus = gaussianRows(rng, 61, 48)
    const positives = Array.from({ length: 37 }, (_, i) => (i * 5) % 61)
    for (const similarity of ['cosine', 'dot'] as const) {
      const opts = { numNegatives: 5, rangeMax: 30, similarity, device }
      const whole = mineHardNegativesSync(queries, corpus, positives, opts)
      for (const batchSize of [1, 4, 13]) {
        const split = mineHardNegativesSync(queries, corpus, positives, { ...opts, batchSize })
        t.deepEqual(Array.from(split.negatives), Array.from(whole.negatives), `${similarity}, batchSize ${batchSize}: negatives`)
        sameBits(t, split.scores, whole.scores, `${similarity}, batchSize ${batchSize}: scores`)
      }
    }
  })
}

test('[cpu] one thread in another process computes the same bits as every thread here', (t) => {
  const cases = CASES.filter((c) => c.queries.length * c.corpus.length > 400).slice(0, 4)
  t.true(cases.length > 0)
  // The cases go through a file: as a command-line argument they can pass the system's limit.
  const file = join(mkdtempSync(join(tmpdir(), 'tk-shape-')), 'cases.json')
  writeFileSync(file, JSON.stringify(cases))
  const script = `
    const cases = JSON.parse(require('node:fs').readFileSync(${JSON.stringify(file)}, 'utf8'))
    const out = cases.map((c) => Buffer.from(tk.pairwiseDistancesSync(c.queries, c.corpus, { metric: c.metric, normalize: c.normalize, device: 'cpu' }).data.buffer).toString('base64'))
    console.log(JSON.stringify({ threads: tk.backends().cpu.threads, out }))`
  const r = runChild(script, { env: { ...process.env, RAYON_NUM_THREADS: '1' }, timeoutMs: 120_000 })
  rmSync(dirname(file), { recursive: true, force: true })
  t.is(r.status, 0, r.stderr)
  const { threads, out } = r.json as { threads: number; out: string[] }
  t.is(threads, 1)
  for (const [n, c] of cases.entries()) {
    const here = pairwiseDistancesSync(c.queries, c.corpus, { metric: c.metric, normalize: c.normalize, device: 'cpu' })
    const buf = Buffer.from(out[n], 'base64')
    sameBits(t, new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), here.data, `${describe(c)}: one thread`)
  }
})

if (DEVICES.includes('cuda')) {
  test('[cuda] the distance tiles sum in the cpu order: the same bits as cpu at ordinary magnitudes', (t) => {
    for (const c of CASES) {
      const opts = { metric: c.metric, normalize: c.normalize }
      const cpu = pairwiseDistancesSync(c.queries, c.corpus, { ...opts, device: 'cpu' })
      const cuda = pairwiseDistancesSync(c.queries, c.corpus, { ...opts, device: 'cuda' })
      sameBits(t, cuda.data, cpu.data, `${describe(c)}: cuda against cpu`)
    }
  })
}
