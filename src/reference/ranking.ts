/**
 * Multiple negatives ranking loss (API.md `multipleNegativesRankingLoss`, as
 * sentence-transformers' MultipleNegativesRankingLoss): candidates c = [positives; negatives],
 * s_ij = scale · sim(anchor_i, c_j), loss = mean_i −log softmax_j(s_ij)[j = i]; `symmetric` adds
 * the positives ranking the anchors and averages the two. In float64, with a max-shifted
 * log-sum-exp; the gradient of each s_ij is (softmax − one-hot) / rows, taken through the
 * similarity pair by pair (cosine similarity = 1 − cosine distance, dot = −dot distance).
 */
import type { RankingOptions, RankingResult } from '../backend'
import { gradToFloat32, invalidArgument } from './common'
import { distance, distanceGrad } from './distance'
import { checkMargin } from './rules'

export function multipleNegativesRankingLoss(
  anchors: Float32Array, positives: Float32Array, rows: number, negatives: Float32Array | null | undefined, negativeRows: number,
  cols: number, opts?: RankingOptions | null,
): RankingResult {
  const similarity = opts?.similarity ?? 'cosine'
  if (similarity !== 'cosine' && similarity !== 'dot') {
    throw invalidArgument(`similarity: expected 'cosine' or 'dot', received '${similarity}'`)
  }
  const scale = opts?.scale ?? 20
  checkMargin(scale, 'scale')
  const k = negatives == null ? 0 : negativeRows
  const candidates = new Float32Array((rows + k) * cols)
  candidates.set(positives.subarray(0, rows * cols))
  if (negatives != null) candidates.set(negatives.subarray(0, k * cols), rows * cols)
  const ga = new Float64Array(rows * cols)
  const gc = new Float64Array((rows + k) * cols)
  const weight = rows > 0 ? (opts?.symmetric ? 0.5 : 1) / rows : 0
  let loss = rank(anchors, rows, candidates, rows + k, cols, similarity, scale, weight, ga, gc)
  // The symmetric direction: positives rank the anchors; ∂ goes to positives (gc's first rows) and anchors.
  if (opts?.symmetric) loss += rank(positives, rows, anchors, rows, cols, similarity, scale, weight, gc, ga)
  return {
    loss,
    gradAnchors: gradToFloat32(ga),
    gradPositives: gradToFloat32(gc.subarray(0, rows * cols)),
    ...(negatives == null ? {} : { gradNegatives: gradToFloat32(gc.subarray(rows * cols)) }),
  }
}

/**
 * weight · Σ_i −log softmax_j(scale · sim(q_i, c_j))[j = i], adding its gradients into gq and gc.
 * Each row is shifted by the similarity of its largest scaled term before the scale multiplies
 * in, and the gradients take the scale last, saturating at ±Number.MAX_VALUE: no inf − inf, so
 * a loss past float64's range is +Infinity and never NaN, and the gradients stay finite.
 */
function rank(q: Float32Array, qRows: number, c: Float32Array, cRows: number, cols: number, similarity: string, scale: number,
  weight: number, gq: Float64Array, gc: Float64Array): number {
  let loss = 0
  const s = new Float64Array(cRows)
  const tq = new Float64Array(qRows * cols)
  const tc = new Float64Array(cRows * cols)
  for (let i = 0; i < qRows; i++) {
    // s = const − d: the constant of cosine (1 − d) cancels in the softmax.
    let top = scale >= 0 ? -Infinity : Infinity
    for (let j = 0; j < cRows; j++) {
      s[j] = -distance(q, i * cols, c, j * cols, cols, similarity)
      top = scale >= 0 ? Math.max(top, s[j]) : Math.min(top, s[j])
    }
    let z = 0
    for (let j = 0; j < cRows; j++) z += Math.exp(scale * (s[j] - top))
    loss += weight * (scale * (top - s[i]) + Math.log(z))
    for (let j = 0; j < cRows; j++) {
      const p = Math.exp(scale * (s[j] - top)) / z - (j === i ? 1 : 0)
      // ∂L/∂d = −scale · ∂L/∂s; the scale multiplies in below.
      distanceGrad(q, i * cols, c, j * cols, cols, similarity, -weight * p, tq, i * cols, tc, j * cols)
    }
  }
  const saturate = (v: number): number => Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v * scale))
  for (let t = 0; t < tq.length; t++) gq[t] += saturate(tq[t])
  for (let t = 0; t < tc.length; t++) gc[t] += saturate(tc[t])
  return loss
}
