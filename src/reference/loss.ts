/**
 * Triplet loss over a labelled batch with its gradient in closed form (API.md `tripletLoss`).
 *
 * Triplets come from a mining strategy (./mining.ts) or are given. For each (a, p, n) the
 * distances are recomputed directly in float64 (docs/SEMANTICS.md "Losses"):
 *   dap = d(a,p), dan = d(a,n); with swap (Balntas et al. 2016) dan := min(dan, d(p,n)),
 *   keeping d(a,n) on a tie;
 *   loss = max(0, dap − dan + α) (FaceNet hinge) or softplus(dap − dan) (soft margin,
 *   Hermans et al. 2017).
 * Reductions: mean (÷ triplets), sum, mean-active (÷ triplets with loss > 0). With no triplet,
 * or no active one under mean-active, the loss is 0 and the gradient is all zeros.
 * With normalize the rows are L2-normalised first and the gradient flows back through it.
 */
import type { LossOptions, LossResult, TripletsResult } from '../backend'
import { distance, distanceGrad, normalizeBackward, normalizeRows, parseMetric } from './distance'
import { mineTriplets } from './mining'
import { DEFAULT_MARGIN, gradToFloat32, invalidArgument, MAX_TRIPLETS, tripletTerm } from './common'
import { checkLabels, checkMargin, checkTriplets } from './rules'

type Reduction = 'mean' | 'sum' | 'mean-active'

function parseReduction(reduction: string = 'mean'): Reduction {
  if (reduction === 'mean' || reduction === 'sum' || reduction === 'mean-active') return reduction
  throw invalidArgument(`reduction: expected one of 'mean', 'sum', 'mean-active', received '${reduction}'`)
}

export function tripletLoss(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts?: LossOptions | null,
  given?: TripletsResult | null, reference?: Float32Array | null, referenceRows?: number | null,
  referenceLabels?: Int32Array | null): LossResult {
  const metric = parseMetric(opts?.metric)
  const reduction = parseReduction(opts?.reduction)
  const normalize = opts?.normalize ?? false
  const margin = opts?.margin ?? DEFAULT_MARGIN
  const softMargin = opts?.softMargin ?? false
  checkLabels('labels', labels, rows)
  checkMargin(margin)
  // The cross-batch reference set: positives and negatives index it, stacked after x's rows.
  const refLabels = reference == null ? undefined : referenceLabels ?? new Int32Array(0)
  if (refLabels !== undefined) checkLabels('referenceLabels', refLabels, referenceRows ?? 0)
  if (given != null) checkTriplets(given, labels, refLabels)
  const triplets = given ?? mineTriplets(x, rows, cols, labels, {
    strategy: opts?.strategy ?? 'batch-hard', margin, metric, normalize, maxTriplets: opts?.maxTriplets ?? MAX_TRIPLETS,
    ...(opts?.sample == null ? {} : { sample: opts.sample }),
  }, reference, referenceRows, referenceLabels)
  const { anchor, positive, negative } = triplets
  const count = anchor.length
  const offset = refLabels === undefined ? 0 : rows
  const allRows = rows + (refLabels?.length ?? 0)
  let all = x
  if (reference != null) {
    all = new Float32Array(allRows * cols)
    all.set(x.subarray(0, rows * cols))
    all.set(reference.subarray(0, (allRows - rows) * cols), rows * cols)
  }
  const e = normalize ? normalizeRows(all, allRows, cols) : all
  // Pass 1: every triplet's loss and slope (the reduction's divisor needs the active count).
  const losses = new Float64Array(count)
  const slopes = new Float64Array(count)
  const swapped = new Uint8Array(count)
  let total = 0
  let active = 0
  for (let t = 0; t < count; t++) {
    const a = anchor[t] * cols
    const p = (offset + positive[t]) * cols
    const n = (offset + negative[t]) * cols
    const dap = distance(e, a, e, p, cols, metric)
    let dan = distance(e, a, e, n, cols, metric)
    if (opts?.swap) {
      const dpn = distance(e, p, e, n, cols, metric)
      if (dpn < dan) {
        dan = dpn
        swapped[t] = 1
      }
    }
    const { loss, slope } = tripletTerm(dap - dan, margin, softMargin)
    losses[t] = loss
    slopes[t] = slope
    total += loss
    if (loss > 0) active++
  }

  const divisor = reduction === 'sum' ? 1 : reduction === 'mean' ? count : active
  const g = new Float64Array(allRows * cols)
  if (divisor === 0) return { loss: 0, grad: new Float32Array(rows * cols), triplets: count, active }

  // Pass 2: ∂loss/∂x = (slope / divisor)·(∂dap − ∂dan), dan taken through the pair actually used.
  for (let t = 0; t < count; t++) {
    const c = slopes[t] / divisor
    if (c === 0) continue
    const a = anchor[t] * cols
    const p = (offset + positive[t]) * cols
    const n = (offset + negative[t]) * cols
    distanceGrad(e, a, e, p, cols, metric, c, g, a, g, p)
    const near = swapped[t] ? p : a
    distanceGrad(e, near, e, n, cols, metric, -c, g, near, g, n)
  }
  // The reference set is a memory of past batches, not a parameter: only x's rows keep their gradient.
  const gx = g.subarray(0, rows * cols)
  const grad = normalize ? normalizeBackward(x, rows, cols, gx) : gx
  return { loss: total / divisor, grad: gradToFloat32(grad), triplets: count, active }
}
