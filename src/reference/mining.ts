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
  const memory = reference == null ? undefined : referenceLabels ?? new Int32Array(0)
  if (memory !== undefined) checkLabels('referenceLabels', memory, referenceRows ?? 0)
  const d = pairwiseDistances(x, rows, reference, reference == null ? rows : referenceRows ?? 0, cols, { metric, normalize: opts.normalize })
  return mineFromDistances(d, rows, labels, strategy, opts.margin ?? DEFAULT_MARGIN, opts.maxTriplets ?? MAX_TRIPLETS, memory)
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
  const A: number[] = []
  const P: number[] = []
  const N: number[] = []
  const push = (a: number, p: number, n: number): void => {
    if (A.length >= maxTriplets) {
      throw backendError(ERROR_CODES.tooManyTriplets, `mining would produce more than ${maxTriplets} triplets; mine smaller batches`)
    }
    A.push(a)
    P.push(p)
    N.push(n)
  }
  const alpha = Math.fround(margin)

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
      default: {
        for (let p = 0; p < width; p++) {
          if ((self && p === a) || cl[p] !== la) continue
          const dap = d[row + p]
          for (let n = 0; n < width; n++) {
            if (cl[n] === la) continue
            const m = Math.fround(d[row + n] - dap)
            if (keep(strategy, m, alpha)) push(a, p, n)
          }
        }
      }
    }
  }
  return { anchor: Int32Array.from(A), positive: Int32Array.from(P), negative: Int32Array.from(N) }
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
