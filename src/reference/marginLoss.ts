/**
 * Triplet margin loss over row-aligned anchor / positive / negative matrices
 * (API.md `tripletMarginLoss`, like PyTorch's nn.TripletMarginLoss but with α defaulting to 0.2).
 *
 * Row i is one triplet: dap = d(A_i, P_i), dan = d(A_i, N_i), with swap (Balntas et al. 2016)
 * dan := min(dan, d(P_i, N_i)) keeping d(A_i, N_i) on a tie; loss_i = max(0, dap − dan + α) or
 * softplus(dap − dan) with softMargin. Reductions (docs/SEMANTICS.md): mean, sum, and none,
 * where `loss` is the sum and each row's gradient is that of its own loss. `losses` always
 * holds every loss_i. Distances are computed in float64; normalize backpropagates through the
 * L2 normalisation of each of the three matrices.
 */
import type { MarginLossOptions, MarginLossResult } from '../backend'
import { distance, distanceGrad, normalizeBackward, normalizeRows, parseMetric } from './distance'
import { DEFAULT_MARGIN, gradToFloat32, invalidArgument, tripletTerm } from './common'

export function tripletMarginLoss(
  anchor: Float32Array, positive: Float32Array, negative: Float32Array, rows: number, cols: number, opts?: MarginLossOptions | null,
): MarginLossResult {
  const metric = parseMetric(opts?.metric)
  const reduction = opts?.reduction ?? 'mean'
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw invalidArgument(`reduction: expected one of 'mean', 'sum', 'none', received '${reduction}'`)
  }
  const normalize = opts?.normalize ?? false
  const A = normalize ? normalizeRows(anchor, rows, cols) : anchor
  const P = normalize ? normalizeRows(positive, rows, cols) : positive
  const N = normalize ? normalizeRows(negative, rows, cols) : negative
  // 'none' reports the sum and the gradient of the sum, like 'sum'.
  const scale = reduction === 'mean' ? (rows > 0 ? 1 / rows : 0) : 1

  const losses = new Float32Array(rows)
  const gA = new Float64Array(rows * cols)
  const gP = new Float64Array(rows * cols)
  const gN = new Float64Array(rows * cols)
  let total = 0
  for (let i = 0; i < rows; i++) {
    const o = i * cols
    const dap = distance(A, o, P, o, cols, metric)
    let dan = distance(A, o, N, o, cols, metric)
    let swapped = false
    if (opts?.swap) {
      const dpn = distance(P, o, N, o, cols, metric)
      if (dpn < dan) {
        dan = dpn
        swapped = true
      }
    }
    const { loss, slope } = tripletTerm(dap - dan, opts?.margin ?? DEFAULT_MARGIN, opts?.softMargin ?? false)
    losses[i] = loss
    total += loss
    const c = slope * scale
    if (c === 0) continue
    distanceGrad(A, o, P, o, cols, metric, c, gA, o, gP, o)
    if (swapped) distanceGrad(P, o, N, o, cols, metric, -c, gP, o, gN, o)
    else distanceGrad(A, o, N, o, cols, metric, -c, gA, o, gN, o)
  }
  const back = (x: Float32Array, g: Float64Array): Float32Array =>
    gradToFloat32(normalize ? normalizeBackward(x, rows, cols, g) : g)
  return {
    loss: total * scale,
    losses,
    gradAnchor: back(anchor, gA),
    gradPositive: back(positive, gP),
    gradNegative: back(negative, gN),
  }
}
