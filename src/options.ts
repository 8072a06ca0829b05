/**
 * The option names of every public function, derived from the addon's options table and checked
 * against their interfaces at compile time,
 * and the one function that reads an options object: once, up front, refusing names it does
 * not know.
 */

import type {
  ContrastiveLossOptions, HardNegativeCandidatesOptions, KnnIndexOptions, MergeHardNegativesOptions, KnnIndexSearchOptions, KnnOptions, LadderLossOptions, LinearAdapterOptions, MineHardNegativesOptions, MineTripletsOptions,
  MultipleNegativesRankingLossOptions, OasisOptions, PairwiseDistancesOptions, RetrievalMetricsOptions, SupConLossOptions, TripletLossOptions,
  TripletMarginLossOptions, ValidationSet, VerificationMetricsOptions,
} from './types'
import { NATIVE_OPTION_KEYS as N } from './native-options'
import { describe } from './validate'

export type Keys<T> = readonly (keyof T & string)[]
/** `K` when it names every key of `T`; otherwise a type that says which are missing. */
type Complete<T, K extends Keys<T>> = [Exclude<keyof T, K[number]>] extends [never] ? K : { missing: Exclude<keyof T, K[number]> }

/** The options most functions share, first in every list and in this order (messages list them). */
const SHARED: readonly string[] = ['metric', 'normalize', 'device', 'signal', 'maxMemory', 'reference', 'referenceLabels']

/** The keys of `T`, checked to be all of them, the shared ones first. */
function keysOf<T>() {
  return <const K extends Keys<T>>(keys: K & Complete<T, K>): K => {
    const rank = (k: string) => (SHARED.includes(k) ? SHARED.indexOf(k) : SHARED.length)
    return [...keys].sort((a, b) => rank(a) - rank(b)) as unknown as K
  }
}

const REFERENCE = ['reference', 'referenceLabels'] as const

/** `keys` less those the TypeScript layer sets itself. */
function without<K extends string, D extends K>(keys: readonly K[], ...drop: D[]): Exclude<K, D>[] {
  const dropped: readonly string[] = drop
  return keys.filter((k): k is Exclude<K, D> => !dropped.includes(k))
}

/**
 * Every option name each public function accepts: the fields of the native options structs it
 * passes on (`NATIVE_OPTION_KEYS`, written from the addon's options table), less those it sets
 * itself, plus its own (`signal`, batching, progress, the reference set).
 */
export const OPTION_KEYS = {
  pairwise: keysOf<PairwiseDistancesOptions>()([...N.MetricOptions, 'signal']),
  knn: keysOf<KnnOptions>()([...N.MetricOptions, ...without(N.SearchOptions, 'queryOffset'), 'signal', 'batchSize', 'onProgress']),
  knnIndex: keysOf<KnnIndexOptions>()([...N.MetricOptions]),
  knnIndexSearch: keysOf<KnnIndexSearchOptions>()([...without(N.SearchOptions, 'queryOffset'), 'signal', 'batchSize', 'onProgress']),
  mine: keysOf<MineTripletsOptions>()([...N.MineOptions, 'signal', ...REFERENCE, 'onProgress']),
  loss: keysOf<TripletLossOptions>()([...without(N.LossOptions, 'strategy'), 'mining', 'signal', ...REFERENCE]),
  marginLoss: keysOf<TripletMarginLossOptions>()([...N.MarginLossOptions, 'signal']),
  contrastive: keysOf<ContrastiveLossOptions>()([...N.ContrastiveOptions, 'signal']),
  ranking: keysOf<MultipleNegativesRankingLossOptions>()([...without(N.RankingOptions, 'maxMemory'), 'negatives', 'signal']),
  supCon: keysOf<SupConLossOptions>()([...N.SupConOptions, 'signal']),
  ladder: keysOf<LadderLossOptions>()([...without(N.LadderOptions, 'maxMemory'), 'signal']),
  hardNegatives: keysOf<MineHardNegativesOptions>()([
    'numNegatives', 'rangeMin', 'rangeMax', 'absoluteMargin', 'relativeMargin', 'maxScore', 'minScore', 'sampling', 'seed',
    'similarity', 'device', 'batchSize', 'onProgress', 'signal',
  ]),
  hardNegativeCandidates: keysOf<HardNegativeCandidatesOptions>()([
    'offset', 'corpusRows', 'rangeMin', 'rangeMax', 'similarity', 'device', 'batchSize', 'onProgress', 'signal',
  ]),
  mergeHardNegatives: keysOf<MergeHardNegativesOptions>()([
    'numNegatives', 'rangeMin', 'rangeMax', 'absoluteMargin', 'relativeMargin', 'maxScore', 'minScore', 'sampling', 'seed', 'similarity',
  ]),
  adapter: keysOf<LinearAdapterOptions>()([
    ...N.MetricOptions, 'signal', 'dim', 'epochs', 'batchSize', 'learningRate', 'seed', 'mining', 'margin', 'validation', 'onProgress',
  ]),
  oasis: keysOf<OasisOptions>()([...without(N.OasisOptions, 'state', 'maxMemory'), 'seed', 'validation', 'onProgress', 'signal']),
  verification: keysOf<VerificationMetricsOptions>()([...N.VerificationOptions, 'signal']),
  retrieval: keysOf<RetrievalMetricsOptions>()([...N.RetrievalOptions, 'signal', ...REFERENCE]),
  validation: keysOf<ValidationSet>()(['embeddings', 'labels']),
} as const

/**
 * Reads an options object once, before anything else of the call is looked at, into a plain
 * snapshot: each known option's getter runs exactly once, so no getter can change an input
 * after it was checked, and later reads see the same values. A name not in `keys` is a
 * TypeError that names it (and the closest known name when it looks like a misspelling).
 * `undefined` is `{}` unless `required`.
 */
export function readOptions<T extends object>(value: T | undefined, keys: Keys<T>, name = 'opts', required = false): Partial<T> {
  if (value === undefined && !required) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name}: expected an options object, received ${describe(value)}`)
  }
  const known: readonly string[] = keys
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const near = closest(key, known)
      throw new TypeError(`${name}.${key}: expected no option of this name, received one` +
        (near === undefined ? `; the options are ${known.join(', ')}` : `; did you mean '${near}'?`))
    }
  }
  const out: Partial<T> = {}
  for (const key of keys) {
    const v = value[key]
    if (v !== undefined) out[key] = v
  }
  return out
}

/** The known name within edit distance 2 of `key` (case ignored), if there is one. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [k, d]
  }
  return best
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]
}
