/**
 * Online triplet mining from a labelled batch (API.md `mineTriplets`, docs/SEMANTICS.md "Mining").
 *
 * A valid triplet is (a, p, n) with a ≠ p, label[a] = label[p], label[n] ≠ label[a].
 * With m = d(a,n) − d(a,p) and margin α:
 *   all: every valid triplet;  violating: m ≤ α;  hard: m ≤ 0;  semihard: 0 < m ≤ α;  easy: m > α
 *   (FaceNet, Schroff et al. 2015), listed ascending by (a, p, n).
 *   batch-hard (Hermans et al. 2017, "In Defense of the Triplet Loss"): per anchor with a positive
 *   and a negative, (a, argmax_p d(a,p), argmin_n d(a,n)); ascending anchor.
 *   batch-semihard (FaceNet online semi-hard, as TensorFlow Addons' TripletSemiHardLoss): per
 *   positive pair (a, p), the negative with the smallest d(a,n) > d(a,p), or else the one with
 *   the largest d(a,n); ascending (a, p).
 * Ties always go to the lower index.
 *
 * Comparisons use the float32 distances that `pairwiseDistances` returns, and m is evaluated
 * in float32 against a float32 α, as the native core (margin: f32) does.
 */
import type { MineOptions, TripletsResult } from '../backend'
import { ERROR_CODES } from '../errors'
import { backendError, DEFAULT_MARGIN, invalidArgument, MAX_TRIPLETS } from './common'
import { checkLabels, checkMargin } from './rules'
import { parseMetric } from './distance'
import { pairwiseDistances } from './pairwise'
import { globalIndex, pairKey, SmallestKeys, tripletKey } from '../sampleKey'

const STRATEGIES = ['all', 'violating', 'hard', 'semihard', 'easy', 'batch-hard', 'batch-semihard'] as const
export type StrategyName = (typeof STRATEGIES)[number]

export function parseStrategy(strategy: string): StrategyName {
  if ((STRATEGIES as readonly string[]).includes(strategy)) return strategy as StrategyName
  throw invalidArgument(`strategy: expected one of ${STRATEGIES.map((x) => `'${x}'`).join(', ')}, received '${strategy}'`)
}

export function mineTriplets(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts: MineOptions,
  reference?: Float32Array | null, referenceRows?: number | null, referenceLabels?: Int32Array | null): TripletsResult {
  const strategy = parseStrategy(opts.strategy)
  const metric = parseMetric(opts.metric)
  checkLabels('labels', labels, rows)
  checkMargin(opts.margin ?? DEFAULT_MARGIN)
  const refLabels = reference == null ? undefined : referenceLabels ?? new Int32Array(0)
  if (refLabels !== undefined) checkLabels('referenceLabels', refLabels, referenceRows ?? 0)
  const sample = opts.sample ?? undefined
  if (sample != null) checkSample(sample, strategy, refLabels !== undefined)
  const d = pairwiseDistances(x, rows, reference, reference == null ? rows : referenceRows ?? 0, cols, { metric, normalize: opts.normalize })
  if (sample != null) return sampleFromDistances(d, rows, labels, strategy, opts.margin ?? DEFAULT_MARGIN, sample, refLabels)
  return mineFromDistances(d, rows, labels, strategy, opts.margin ?? DEFAULT_MARGIN, opts.maxTriplets ?? MAX_TRIPLETS, refLabels)
}

type Sample = NonNullable<MineOptions['sample']>

/** The native core's rules for a sample (crates/core rules::sample and the binding's). */
function checkSample(s: Sample, strategy: StrategyName, hasReference: boolean): void {
  if (strategy === 'batch-hard' || strategy === 'batch-semihard') {
    throw invalidArgument(`sample: expected a set strategy ('all', 'violating', 'hard', 'semihard' or 'easy') to sample, received '${strategy}'`)
  }
  if (!Number.isInteger(s.count) || s.count < 0 || s.count > MAX_TRIPLETS) {
    throw invalidArgument(`sample.count: expected an integer from 0 to ${MAX_TRIPLETS}, received ${s.count}`)
  }
  for (const k of ['seed', 'anchorOffset', 'referenceOffset'] as const) {
    const v = s[k]
    if (v != null && !(Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER)) {
      throw invalidArgument(`sample.${k}: expected an integer from 0 to 2^53 − 1, received ${v}`)
    }
  }
  if (!hasReference && (s.referenceOffset ?? 0) !== 0) {
    throw invalidArgument(`sample.referenceOffset: expected 0 without a reference set (candidates are the anchors, at anchorOffset), received ${s.referenceOffset}`)
  }
}

/** The sample of a set strategy's triplets: the `count` of smallest key, in (a, p, n) order. */
function sampleFromDistances(d: Float32Array, rows: number, labels: Int32Array, strategy: StrategyName, margin: number,
  s: Sample, candidates?: Int32Array): TripletsResult {
  const cl = candidates ?? labels
  const width = cl.length
  const self = candidates === undefined
  const seed = s.seed ?? 0
  const anchorOffset = s.anchorOffset ?? 0
  const candOffset = self ? anchorOffset : s.referenceOffset ?? 0
  const keep = new SmallestKeys(s.count)
  const alpha = Math.fround(margin)
  let pair = 0n
  let pairOf = -1
  for (let a = 0; a < rows; a++) {
    setTriplets(d, a * width, a, labels[a], cl, self, strategy, alpha, (_a, p, n) => {
      if (pairOf !== a * width + p) {
        pair = pairKey(seed, globalIndex(anchorOffset, a), globalIndex(candOffset, p))
        pairOf = a * width + p
      }
      const key = tripletKey(pair, globalIndex(candOffset, n))
      if (keep.admits(key)) keep.offer({ key, a, p, n })
    })
  }
  const kept = keep.sorted()
  return {
    anchor: Int32Array.from(kept, (t) => t.a),
    positive: Int32Array.from(kept, (t) => t.p),
    negative: Int32Array.from(kept, (t) => t.n),
  }
}

/**
 * Mining over a precomputed float32 distance matrix `d`: rows × rows, or rows × candidates when
 * `candidates` (a reference set's labels) is given; then a row may pair with any candidate.
 */
export function mineFromDistances(
  d: Float32Array, rows: number, labels: Int32Array, strategy: StrategyName, margin: number, maxTriplets: number,
  candidates?: Int32Array,
): TripletsResult {
  const cl = candidates ?? labels
  const width = cl.length
  const self = candidates === undefined
  const out = new TripletBuffer(maxTriplets)
  const push = (a: number, p: number, n: number): void => out.push(a, p, n)
  const alpha = Math.fround(margin)
  if (strategy !== 'batch-hard' && strategy !== 'batch-semihard') {
    // Count first, so a refusal costs no refLabels and the result is allocated once.
    let count = 0
    const counted = (): void => {
      if (++count > maxTriplets) throw tooMany(maxTriplets)
    }
    for (let a = 0; a < rows; a++) setTriplets(d, a * width, a, labels[a], cl, self, strategy, alpha, counted)
    out.reserve(count)
  }

  for (let a = 0; a < rows; a++) {
    const la = labels[a]
    const row = a * width
    switch (strategy) {
      case 'batch-hard': {
        let p = -1
        let n = -1
        for (let j = 0; j < width; j++) {
          if (cl[j] === la) {
            // strict comparisons while scanning upwards keep the lower index on a tie
            if (!(self && j === a) && (p < 0 || d[row + j] > d[row + p])) p = j
          } else if (n < 0 || d[row + j] < d[row + n]) {
            n = j
          }
        }
        if (p >= 0 && n >= 0) push(a, p, n)
        break
      }
      case 'batch-semihard': {
        for (let p = 0; p < width; p++) {
          if ((self && p === a) || cl[p] !== la) continue
          const dap = d[row + p]
          let semi = -1 // argmin d(a,n) over d(a,n) > d(a,p)
          let far = -1 // argmax d(a,n) over all negatives, the fallback
          for (let n = 0; n < width; n++) {
            if (cl[n] === la) continue
            const dan = d[row + n]
            if (dan > dap && (semi < 0 || dan < d[row + semi])) semi = n
            if (far < 0 || dan > d[row + far]) far = n
          }
          if (far < 0) break // this anchor has no negative at all: nothing for any p
          push(a, p, semi >= 0 ? semi : far)
        }
        break
      }
      default:
        setTriplets(d, row, a, la, cl, self, strategy, alpha, push)
    }
  }
  return out.result()
}

/** Calls `emit` for every triplet of anchor `a` that a set strategy keeps. */
function setTriplets(
  d: Float32Array, row: number, a: number, la: number, cl: Int32Array, self: boolean, strategy: StrategyName, alpha: number,
  emit: (a: number, p: number, n: number) => void,
): void {
  const width = cl.length
  for (let p = 0; p < width; p++) {
    if ((self && p === a) || cl[p] !== la) continue
    const dap = d[row + p]
    for (let n = 0; n < width; n++) {
      if (cl[n] === la) continue
      const m = Math.fround(d[row + n] - dap)
      if (keep(strategy, m, alpha)) emit(a, p, n)
    }
  }
}

/**
 * A triplet list that refuses to pass `limit` and never holds more than it: for the set
 * strategies it is sized by a counting pass first, so a refused request allocates nothing,
 * and it lives in typed arrays, which (unlike a plain array) hold more than V8's ~112M-element
 * limit for arrays.
 */
class TripletBuffer {
  private anchor: Int32Array<ArrayBuffer> = new Int32Array(0)
  private positive: Int32Array<ArrayBuffer> = new Int32Array(0)
  private negative: Int32Array<ArrayBuffer> = new Int32Array(0)
  private length = 0

  constructor(private readonly limit: number) {}

  /** Makes room for `count` triplets in one allocation, or refuses if that passes the limit. */
  reserve(count: number): void {
    if (count > this.limit) throw tooMany(this.limit)
    if (count > this.anchor.length) this.grow(count)
  }

  push(a: number, p: number, n: number): void {
    if (this.length >= this.limit) throw tooMany(this.limit)
    if (this.length === this.anchor.length) this.grow(Math.min(this.limit, Math.max(16, this.length * 2)))
    this.anchor[this.length] = a
    this.positive[this.length] = p
    this.negative[this.length] = n
    this.length++
  }

  result(): TripletsResult {
    const n = this.length
    // A counted set fills its arrays exactly: hand them over without a copy.
    if (n === this.anchor.length) return { anchor: this.anchor, positive: this.positive, negative: this.negative }
    return { anchor: this.anchor.slice(0, n), positive: this.positive.slice(0, n), negative: this.negative.slice(0, n) }
  }

  private grow(capacity: number): void {
    const grown = (old: Int32Array): Int32Array<ArrayBuffer> => {
      const next = new Int32Array(capacity)
      next.set(old.subarray(0, this.length))
      return next
    }
    this.anchor = grown(this.anchor)
    this.positive = grown(this.positive)
    this.negative = grown(this.negative)
  }
}

function tooMany(limit: number): Error {
  return backendError(ERROR_CODES.tooManyTriplets, `mining would produce more than ${limit} triplets; mine smaller batches`)
}

function keep(strategy: StrategyName, m: number, alpha: number): boolean {
  switch (strategy) {
    case 'all':
      return true
    case 'violating':
      return m <= alpha
    case 'hard':
      return m <= 0
    case 'semihard':
      return m > 0 && m <= alpha
    case 'easy':
      return m > alpha
    default:
      throw invalidArgument(`strategy: expected one of ${STRATEGIES.map((x) => `'${x}'`).join(', ')}, received '${strategy}'`)
  }
}
