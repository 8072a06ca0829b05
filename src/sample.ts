/**
 * Sampled set mining's public side: the `sample` option checked for mineTriplets and
 * tripletLoss, and {@link mergeTripletSamples}, which merges the samples of shards into the
 * sample of their union (docs/SEMANTICS.md, "Sampled mining").
 */

import { readOptions } from './options'
import { globalIndex, pairKey, SmallestKeys, tripletKey } from './sampleKey'
import type { SampleOptions, Strategy, Triplets, TripletsLike } from './types'
import { checkInteger, describe, toIndexArray } from './validate'

const INT32_MAX = 2 ** 31 - 1
const SAMPLE_KEYS = ['count', 'seed', 'anchorOffset', 'referenceOffset'] as const satisfies readonly (keyof SampleOptions)[]

/** The checked sample of a call: count, seed and offsets, with their defaults. */
export type CheckedSample = Required<SampleOptions>

/**
 * `opts.sample` of mineTriplets / tripletLoss: a set strategy's, a count from 0 to 2³¹ − 1,
 * a seed and offsets that are exact integers, a reference offset only with a reference.
 */
export function checkSample(value: unknown, name: string, strategy: Strategy | undefined, hasReference: boolean): CheckedSample | undefined {
  if (value === undefined) return undefined
  const o = readOptions(value as SampleOptions, SAMPLE_KEYS, name, true)
  if (strategy === undefined || strategy === 'batch-hard' || strategy === 'batch-semihard') {
    throw new RangeError(`${name}: expected a set strategy ('all', 'violating', 'hard', 'semihard' or 'easy') to sample, received ${strategy === undefined ? 'given triplets' : `'${strategy}'`}`)
  }
  const s: CheckedSample = {
    count: checkInteger(o.count, `${name}.count`, 0, INT32_MAX),
    seed: o.seed === undefined ? 0 : checkInteger(o.seed, `${name}.seed`, 0),
    anchorOffset: o.anchorOffset === undefined ? 0 : checkInteger(o.anchorOffset, `${name}.anchorOffset`, 0),
    referenceOffset: o.referenceOffset === undefined ? 0 : checkInteger(o.referenceOffset, `${name}.referenceOffset`, 0),
  }
  if (!hasReference && s.referenceOffset !== 0) {
    throw new RangeError(`${name}.referenceOffset: expected 0 without a reference set (candidates are the anchors, at anchorOffset), received ${s.referenceOffset}`)
  }
  return s
}

/**
 * Merges samples of shards into the sample of the union of their sets: each triplet's key is
 * recomputed from `seed` and its global indices, and the `count` of smallest (key, a, p, n)
 * are kept, in ascending (a, p, n). Each sample must be in global indices (a shard's local
 * indices plus its `anchorOffset`, and its `referenceOffset` for positives and negatives; as
 * int32 arrays, global indices up to 2³¹ − 1),
 * drawn with this seed and at least this count. With anchor shards over one reference set
 * the union is the whole call's set, so the merge equals one sampled call.
 *
 * @example
 * const parts = shards.map(({ x, labels, first }) => {
 *   const t = mineTripletsSync(x, labels, { strategy: 'all', reference, referenceLabels, sample: { count, seed, anchorOffset: first } })
 *   return { ...t, anchor: t.anchor.map((a) => a + first) }
 * })
 * const sample = mergeTripletSamples(parts, { count, seed })
 * @throws TypeError / RangeError for bad samples or options.
 */
export function mergeTripletSamples(samples: readonly TripletsLike[], opts: { count: number; seed?: number }): Triplets {
  if (!Array.isArray(samples)) throw new TypeError(`samples: expected an array of triplets, received ${describe(samples)}`)
  const o = readOptions(opts, ['count', 'seed'] as const, 'opts', true)
  const count = checkInteger(o.count, 'opts.count', 0, INT32_MAX)
  const seed = o.seed === undefined ? 0 : checkInteger(o.seed, 'opts.seed', 0)
  const keep = new SmallestKeys(count)
  samples.forEach((t, i) => {
    if (typeof t !== 'object' || t === null) throw new TypeError(`samples[${i}]: expected triplets, received ${describe(t)}`)
    const a = toIndexArray(t.anchor, `samples[${i}].anchor`)
    const p = toIndexArray(t.positive, `samples[${i}].positive`)
    const n = toIndexArray(t.negative, `samples[${i}].negative`)
    if (p.length !== a.length || n.length !== a.length) {
      throw new RangeError(`samples[${i}]: expected anchor, positive and negative of one length, received ${a.length}, ${p.length} and ${n.length}`)
    }
    for (const [what, v] of [['anchor', a], ['positive', p], ['negative', n]] as const) {
      const bad = v.findIndex((i) => i < 0)
      if (bad >= 0) throw new RangeError(`samples[${i}].${what}[${bad}]: expected a global index ≥ 0, received ${v[bad]}`)
    }
    for (let j = 0; j < a.length; j++) {
      const key = tripletKey(pairKey(seed, globalIndex(0, a[j]), globalIndex(0, p[j])), globalIndex(0, n[j]))
      if (keep.admits(key)) keep.offer({ key, a: a[j], p: p[j], n: n[j] })
    }
  })
  const kept = keep.sorted()
  for (let j = 1; j < kept.length; j++) {
    const [x, y] = [kept[j - 1], kept[j]]
    if (x.a === y.a && x.p === y.p && x.n === y.n) {
      throw new RangeError(`samples: expected shards that do not overlap, received triplet (${x.a}, ${x.p}, ${x.n}) twice`)
    }
  }
  return {
    anchor: Int32Array.from(kept, (t) => t.a),
    positive: Int32Array.from(kept, (t) => t.p),
    negative: Int32Array.from(kept, (t) => t.n),
    length: kept.length,
  }
}
