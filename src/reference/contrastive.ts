/**
 * Contrastive loss over every ordered pair of a labelled batch (API.md `contrastiveLoss`, as
 * pytorch-metric-learning's ContrastiveLoss): a positive pair (same label, i ≠ j) costs
 * max(0, d − posMargin), a negative pair max(0, negMargin − d); the positive and the negative
 * losses are reduced each on their own and added. Distances and gradients in float64, pair by
 * pair; with normalize the gradient flows back through the L2 normalisation.
 */
import type { ContrastiveOptions, LossResult } from '../backend'
import { gradToFloat32, invalidArgument } from './common'
import { distance, distanceGrad, normalizeBackward, normalizeRows, parseMetric } from './distance'
import { checkLabels, checkMargin } from './rules'

/** The factor that reduces `count` losses, `active` of them > 0 (0 where the part is empty). */
function reduce(reduction: string, count: number, active: number): number {
  const divisor = reduction === 'sum' ? Math.min(1, count) : reduction === 'mean' ? count : active
  return divisor > 0 ? 1 / divisor : 0
}

export function contrastiveLoss(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts?: ContrastiveOptions | null): LossResult {
  const metric = parseMetric(opts?.metric)
  const reduction = opts?.reduction ?? 'mean'
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'mean-active') {
    throw invalidArgument(`reduction: expected one of 'mean', 'sum', 'mean-active', received '${reduction}'`)
  }
  const posMargin = opts?.posMargin ?? 0
  const negMargin = opts?.negMargin ?? 1
  checkLabels('labels', labels, rows)
  checkMargin(posMargin, 'posMargin')
  checkMargin(negMargin, 'negMargin')
  const normalize = opts?.normalize ?? false
  const e = normalize ? normalizeRows(x, rows, cols) : x
  // Pass 1: every pair's loss; the sign of its slope in d (+1 positive, −1 negative, 0 inactive).
  const slope = new Int8Array(rows * rows)
  const pos = { count: 0, active: 0, sum: 0 }
  const neg = { count: 0, active: 0, sum: 0 }
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      if (i === j) continue
      const d = distance(e, i * cols, e, j * cols, cols, metric)
      const same = labels[i] === labels[j]
      const loss = same ? Math.max(0, d - posMargin) : Math.max(0, negMargin - d)
      const side = same ? pos : neg
      side.count++
      side.sum += loss
      if (loss > 0) {
        side.active++
        slope[i * rows + j] = same ? 1 : -1
      }
    }
  }
  const sp = reduce(reduction, pos.count, pos.active)
  const sn = reduce(reduction, neg.count, neg.active)
  // Pass 2: each active pair adds its reduced slope times ∂d/∂(x_i, x_j).
  const g = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      const s = slope[i * rows + j]
      if (s === 0) continue
      distanceGrad(e, i * cols, e, j * cols, cols, metric, s * (s > 0 ? sp : sn), g, i * cols, g, j * cols)
    }
  }
  return {
    loss: pos.sum * sp + neg.sum * sn,
    grad: gradToFloat32(normalize ? normalizeBackward(x, rows, cols, g) : g),
    triplets: pos.count + neg.count,
    active: pos.active + neg.active,
  }
}
