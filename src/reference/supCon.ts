/**
 * Supervised contrastive loss (API.md `supConLoss`, as pytorch-metric-learning's SupConLoss):
 * s_ij = cos(x_i, x_j) / τ over ordered pairs i ≠ j; anchor i with positives P(i) loses
 * −(1/|P(i)|) Σ_{p∈P(i)} [s_ip − log Σ_{a≠i} exp(s_ia)]; the loss is the mean over the anchors
 * whose loss is > 0. Cosines and gradients in float64, pair by pair.
 */
import type { SupConOptions, SupConResult } from '../backend'
import { gradToFloat32, invalidArgument } from './common'
import { distance, distanceGrad } from './distance'
import { checkLabels } from './rules'

export function supConLoss(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts?: SupConOptions | null): SupConResult {
  const temperature = opts?.temperature ?? 0.1
  checkLabels('labels', labels, rows)
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw invalidArgument(`opts.temperature: expected a positive number, received ${temperature}`)
  }
  const zero = { loss: 0, grad: new Float32Array(rows * cols), anchors: 0 }
  let samePair = false
  let otherPair = false
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < i; j++) {
      if (labels[i] === labels[j]) samePair = true
      else otherPair = true
    }
  }
  if (!samePair || !otherPair) return zero
  // s_ij = (1 − d_ij)/τ with d the cosine distance (1 with a zero vector); the constant cancels.
  const s = new Float64Array(rows)
  const coef = new Float64Array(rows * rows)
  let sum = 0
  let anchors = 0
  for (let i = 0; i < rows; i++) {
    let positives = 0
    for (let j = 0; j < rows; j++) if (j !== i && labels[j] === labels[i]) positives++
    if (positives === 0) continue
    let max = -Infinity
    for (let j = 0; j < rows; j++) {
      s[j] = j === i ? -Infinity : -distance(x, i * cols, x, j * cols, cols, 'cosine') / temperature
      max = Math.max(max, s[j])
    }
    let z = 0
    for (let j = 0; j < rows; j++) z += Math.exp(s[j] - max)
    const lse = max + Math.log(z)
    let l = 0
    for (let j = 0; j < rows; j++) if (j !== i && labels[j] === labels[i]) l -= (s[j] - lse) / positives
    if (!(l > 0)) continue
    sum += l
    anchors++
    // ∂l_i/∂s_ij = softmax_ij − [j ∈ P(i)]/|P(i)|; scaled below once the anchors are counted.
    for (let j = 0; j < rows; j++) {
      if (j !== i) coef[i * rows + j] = Math.exp(s[j] - lse) - (labels[j] === labels[i] ? 1 / positives : 0)
    }
  }
  if (anchors === 0) return zero
  // ∂loss/∂d = −(1/(anchors · τ)) ∂loss/∂s.
  const scale = -1 / (anchors * temperature)
  const g = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      const c = coef[i * rows + j]
      if (c !== 0) distanceGrad(x, i * cols, x, j * cols, cols, 'cosine', scale * c, g, i * cols, g, j * cols)
    }
  }
  return { loss: sum / anchors, grad: gradToFloat32(g), anchors }
}
