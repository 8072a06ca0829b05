/**
 * Sampled set mining (docs/SEMANTICS.md, "Sampled mining"): the sample is the `count` triplets
 * of smallest key h(seed, a, p, n), SplitMix64 chained over global indices. Checked here: the
 * key against SplitMix64 written out from its publication; every device (js, cpu, emulated
 * cuda) against the others bit for bit on random batches of odd sizes; one thread against
 * many; shards merged against one call; tripletLoss over a sample; the refusals; and a
 * chi-square test that every triplet is kept with probability count/|set|, which a biased
 * sampler (the first `count` of the set) fails.
 */
import test from 'ava'
import type { ExecutionContext } from 'ava'
import {
  mergeTripletSamples, mineTriplets, mineTripletsSync, tripletLossSync,
  type Matrix, type Strategy, type Triplets,
} from '../index'
import { runChild } from './helpers/child'
import { DEVICES } from './helpers/devices'
import { flat, gaussianRows } from './helpers/data'
import { Rng } from './helpers/prng'

const SET_STRATEGIES: Strategy[] = ['all', 'violating', 'hard', 'semihard', 'easy']

/** SplitMix64 (Steele, Lea and Flood 2014; Vigna's splitmix64.c), one output from a state. */
function splitmix(state: bigint): bigint {
  const M = (1n << 64n) - 1n
  let z = (state + 0x9e3779b97f4a7c15n) & M
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M
  return z ^ (z >> 31n)
}

/** The documented key: h = s(s(s(s(seed) ^ a) ^ p) ^ n). */
function key(seed: number, a: number, p: number, n: number): bigint {
  return splitmix(splitmix(splitmix(splitmix(BigInt(seed)) ^ BigInt(a)) ^ BigInt(p)) ^ BigInt(n))
}

type Tri = [number, number, number]

const list = (t: Triplets): Tri[] => Array.from(t.anchor, (a, i) => [a, t.positive[i], t.negative[i]])

/** The sample of `set` (global indices) by the definition: sort by (key, a, p, n), keep count, list by (a, p, n). */
function sampleOf(set: Tri[], count: number, seed: number): Tri[] {
  const keyed = set.map((t) => ({ t, k: key(seed, ...t) }))
  keyed.sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : x.t[0] - y.t[0] || x.t[1] - y.t[1] || x.t[2] - y.t[2]))
  return keyed.slice(0, count).map((e) => e.t).sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])
}

function batch(rng: Rng, rows: number, cols: number, classes: number): { x: Matrix; labels: Int32Array } {
  return { x: { data: flat(gaussianRows(rng, rows, cols)), rows, cols }, labels: Int32Array.from({ length: rows }, () => rng.int(classes)) }
}

function same(t: ExecutionContext, got: Triplets, want: Triplets, what: string): void {
  t.deepEqual([got.anchor, got.positive, got.negative], [want.anchor, want.positive, want.negative], what)
  t.is(got.length, want.anchor.length, `${what}: length`)
}

test('the key is SplitMix64 chained over (seed, a, p, n): a case worked from the published algorithm', (t) => {
  // SplitMix64's first output from state 0, as published.
  t.is(splitmix(0n), 0xe220a8397b1dcdafn)
  // labels [0, 0, 1, 1]: the 'all' set is 8 triplets; a sample of 3 keeps the 3 smallest keys.
  const x = { data: Float32Array.from([0, 0, 1, 0, 5, 5, 6, 5]), rows: 4, cols: 2 }
  const labels = [0, 0, 1, 1]
  const set: Tri[] = [[0, 1, 2], [0, 1, 3], [1, 0, 2], [1, 0, 3], [2, 3, 0], [2, 3, 1], [3, 2, 0], [3, 2, 1]]
  for (const seed of [0, 1, 2 ** 53 - 1]) {
    const want = sampleOf(set, 3, seed)
    for (const device of DEVICES) {
      const got = mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 3, seed }, device })
      t.deepEqual(list(got), want, `seed ${seed} on ${device}`)
    }
  }
  // A count at or past the set's size keeps the whole set, in its order.
  t.deepEqual(list(mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 8 } })), set)
  t.deepEqual(list(mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 1000 } })), set)
  for (const device of DEVICES) t.is(mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 0 }, device }).length, 0, `count 0 on ${device}`)
  t.is(mergeTripletSamples([mineTripletsSync(x, labels, { strategy: 'all' })], { count: 0 }).length, 0, 'a merge of count 0')
  t.throws(() => mergeTripletSamples([{ anchor: [-1], positive: [0], negative: [2] }], { count: 1 }), { instanceOf: RangeError, message: /^samples\[0\]\.anchor\[0\]: expected a global index ≥ 0/ })
})

for (const device of DEVICES) {
  test(`sampled mining on ${device} equals the definition over the full set, every set strategy, with and without a reference`, async (t) => {
    const rng = new Rng(31)
    const { x, labels } = batch(rng, 41, 5, 4)
    const ref = batch(rng, 23, 5, 5)
    for (const strategy of SET_STRATEGIES) {
      for (const [count, seed, withRef] of [[1, 0, false], [17, 3, false], [250, 11, true], [9, 2 ** 40, true]] as const) {
        const reference = withRef ? { reference: ref.x, referenceLabels: ref.labels } : {}
        const anchorOffset = 100
        const referenceOffset = withRef ? 7 : 0
        const full = mineTripletsSync(x, labels, { strategy, margin: 0.4, ...reference, device: 'cpu' })
        // The definition, in global indices, then back to the call's.
        const global = list(full).map(([a, p, n]): Tri => [a + anchorOffset, p + (withRef ? referenceOffset : anchorOffset), n + (withRef ? referenceOffset : anchorOffset)])
        const want = sampleOf(global, count, seed).map(([a, p, n]) => [a - anchorOffset, p - (withRef ? referenceOffset : anchorOffset), n - (withRef ? referenceOffset : anchorOffset)])
        const opts = { strategy, margin: 0.4, ...reference, device, sample: { count, seed, anchorOffset, ...(withRef ? { referenceOffset } : {}) } }
        const what = `${strategy}, count ${count}, seed ${seed}${withRef ? ', reference' : ''}`
        t.deepEqual(list(mineTripletsSync(x, labels, opts)), want, what)
        t.deepEqual(list(await mineTriplets(x, labels, opts)), want, `${what} (async)`)
      }
    }
  })

  test(`tripletLoss with a sample on ${device} is the loss over the sampled triplets`, (t) => {
    const rng = new Rng(37)
    const { x, labels } = batch(rng, 29, 4, 3)
    const sample = { count: 40, seed: 5 }
    const mined = mineTripletsSync(x, labels, { strategy: 'violating', sample, device })
    t.is(mined.length, 40)
    const sampled = tripletLossSync(x, labels, { mining: 'violating', sample, device })
    const given = tripletLossSync(x, labels, { mining: mined, device })
    t.is(sampled.triplets, 40)
    t.is(sampled.loss, given.loss)
    t.deepEqual(sampled.grad.data, given.grad.data)
  })
}

test('a sample is never refused by maxTriplets, and bad samples are refused naming the option', (t) => {
  const rng = new Rng(41)
  const { x, labels } = batch(rng, 30, 3, 3)
  t.is(mineTripletsSync(x, labels, { strategy: 'all', maxTriplets: 1, sample: { count: 50 } }).length, 50)
  const bad: [unknown, new (...a: never[]) => Error, RegExp][] = [
    [5, TypeError, /^opts\.sample: expected an options object/],
    [{ count: 2, seeds: 1 }, TypeError, /^opts\.sample\.seeds: expected no option of this name.*did you mean 'seed'/],
    [{}, TypeError, /^opts\.sample\.count: expected an integer/],
    [{ count: -1 }, RangeError, /^opts\.sample\.count: expected an integer from 0 to 2147483647, received -1/],
    [{ count: 2 ** 31 }, RangeError, /^opts\.sample\.count:/],
    [{ count: 3, seed: 1.5 }, RangeError, /^opts\.sample\.seed: expected an integer/],
    [{ count: 3, seed: 2 ** 53 }, RangeError, /^opts\.sample\.seed:/],
    [{ count: 3, referenceOffset: 4 }, RangeError, /^opts\.sample\.referenceOffset: expected 0 without a reference set/],
  ]
  for (const [sample, type, message] of bad) {
    for (const device of DEVICES) {
      t.throws(() => mineTripletsSync(x, labels, { strategy: 'all', device, sample: sample as never }), { instanceOf: type, message }, JSON.stringify(sample))
    }
  }
  for (const strategy of ['batch-hard', 'batch-semihard'] as const) {
    t.throws(() => mineTripletsSync(x, labels, { strategy, sample: { count: 3 } }), { instanceOf: RangeError, message: new RegExp(`^opts\\.sample: expected a set strategy .* received '${strategy}'`) })
  }
  t.throws(() => tripletLossSync(x, labels, { mining: { anchor: [0], positive: [0], negative: [0] }, sample: { count: 3 } }), { instanceOf: RangeError, message: /^opts\.sample: expected a set strategy .* received given triplets/ })
})

test('[cpu] one thread in another process keeps the same sample as every thread here', (t) => {
  const script = `
    const rng = { s: 7, next() { this.s = (this.s * 1103515245 + 12345) % 2147483648; return this.s / 2147483648 } }
    const rows = 211, cols = 6
    const x = { data: Float32Array.from({ length: rows * cols }, () => rng.next() - 0.5), rows, cols }
    const labels = Int32Array.from({ length: rows }, () => Math.floor(rng.next() * 7))
    const out = ['all', 'semihard'].map((strategy) => Array.from(tk.mineTripletsSync(x, labels, { strategy, device: 'cpu', sample: { count: 5000, seed: 3 } }).negative))
    console.log(JSON.stringify({ threads: tk.backends().cpu.threads, out, x: Array.from(x.data), labels: Array.from(labels) }))`
  const r = runChild(script, { env: { ...process.env, RAYON_NUM_THREADS: '1' }, timeoutMs: 120_000 })
  t.is(r.status, 0, r.stderr)
  const got = r.json as { threads: number; out: number[][]; x: number[]; labels: number[] }
  t.is(got.threads, 1)
  const x = { data: Float32Array.from(got.x), rows: 211, cols: 6 }
  for (const [i, strategy] of (['all', 'semihard'] as const).entries()) {
    const here = mineTripletsSync(x, got.labels, { strategy, device: 'cpu', sample: { count: 5000, seed: 3 } })
    t.is(here.length, 5000)
    t.deepEqual(Array.from(here.negative), got.out[i], strategy)
  }
})

test('shards merge by key: anchor shards give the one-call sample, reference shards the sample of their union', (t) => {
  const rng = new Rng(43)
  const { x, labels } = batch(rng, 37, 4, 4)
  const ref = batch(rng, 53, 4, 4)
  const [count, seed] = [60, 9]
  for (const device of DEVICES) {
    const opts = { strategy: 'all' as const, reference: ref.x, referenceLabels: ref.labels, device }
    const whole = mineTripletsSync(x, labels, { ...opts, sample: { count, seed } })
    // Anchor shards over one reference: the union of their sets is the whole set.
    const cuts = [0, 1, 15, 15, 37]
    const parts = cuts.slice(1).map((end, i) => {
      const start = cuts[i]
      const shard = { data: x.data.slice(start * 4, end * 4), rows: end - start, cols: 4 }
      const s = mineTripletsSync(shard, labels.slice(start, end), { ...opts, sample: { count, seed, anchorOffset: start } })
      return { ...s, anchor: s.anchor.map((a) => a + start) }
    })
    same(t, mergeTripletSamples(parts, { count, seed }), whole, `${device}: anchor shards`)
    // Reference shards: each shard's set has its own positives and negatives.
    const refCuts = [0, 20, 53]
    const union: Tri[] = []
    const refParts = refCuts.slice(1).map((end, i) => {
      const start = refCuts[i]
      const shard = { reference: { data: ref.x.data.slice(start * 4, end * 4), rows: end - start, cols: 4 }, referenceLabels: ref.labels.slice(start, end) }
      const full = mineTripletsSync(x, labels, { strategy: 'all', ...shard, device })
      union.push(...list(full).map(([a, p, n]): Tri => [a, p + start, n + start]))
      const s = mineTripletsSync(x, labels, { strategy: 'all', ...shard, device, sample: { count, seed, referenceOffset: start } })
      return { ...s, positive: s.positive.map((p) => p + start), negative: s.negative.map((n) => n + start) }
    })
    t.deepEqual(list(mergeTripletSamples(refParts, { count, seed })), sampleOf(union, count, seed), `${device}: reference shards`)
  }
  t.throws(() => mergeTripletSamples([whole0(), whole0()], { count: 10 }), { instanceOf: RangeError, message: /^samples: expected shards that do not overlap/ })
  function whole0(): Triplets {
    return mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 5 } })
  }
})

/**
 * Pearson's statistic for the inclusion counts of every triplet over `seeds` samples of `count`
 * from a set of `size`, with the finite-population correction of sampling without replacement
 * (each count has variance seeds·π(1 − π), π = count/size); about χ² with size − 1 degrees of
 * freedom when the sampler is uniform.
 */
function chiSquare(counts: number[], seeds: number, count: number): number {
  const size = counts.length
  const pi = count / size
  const expected = seeds * pi
  return counts.reduce((sum, c) => sum + (c - expected) ** 2, 0) / (expected * (1 - pi))
}

/** The χ² quantile at 1 − 0.001 by Wilson and Hilferty's approximation (z = 3.090). */
function critical(df: number): number {
  const z = 3.090
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3
}

test('the sample is uniform: a chi-square test at significance 0.001 over 3,000 seeds, which a biased sampler fails', (t) => {
  // labels [0, 0, 0, 1, 1, 2, 2]: the 'all' set has 3·2·4 + 2·(1·5) + 2·(1·5) = 44 triplets.
  const x = { data: Float32Array.from({ length: 14 }, (_, i) => i % 5), rows: 7, cols: 2 }
  const labels = [0, 0, 0, 1, 1, 2, 2]
  const set = list(mineTripletsSync(x, labels, { strategy: 'all' }))
  t.is(set.length, 44)
  const index = new Map(set.map((s, i) => [s.join(','), i]))
  const [seeds, count] = [3000, 5]
  const counts = new Array<number>(set.length).fill(0)
  const biased = new Array<number>(set.length).fill(0)
  for (let seed = 0; seed < seeds; seed++) {
    const s = list(mineTripletsSync(x, labels, { strategy: 'all', sample: { count, seed } }))
    t.is(s.length, count)
    for (const tri of s) counts[index.get(tri.join(','))!]++
    // The biased variant keeps the set's first `count` whatever the seed.
    for (let i = 0; i < count; i++) biased[i]++
  }
  const limit = critical(set.length - 1)
  const stat = chiSquare(counts, seeds, count)
  t.true(stat < limit, `uniform: χ² = ${stat.toFixed(1)} against ${limit.toFixed(1)}`)
  const bias = chiSquare(biased, seeds, count)
  t.true(bias > limit, `biased: χ² = ${bias.toFixed(1)} against ${limit.toFixed(1)}`)
  // Every triplet is drawn, each about seeds·count/size ≈ 341 times.
  t.true(counts.every((c) => c > 250 && c < 440), `counts from ${Math.min(...counts)} to ${Math.max(...counts)}`)
})
