/**
 * Verification metrics over labelled pairs (API.md `verificationMetrics`, the LFW protocol of
 * FaceNet): d_i = d(a_i, b_i) in float64; "same" is predicted when d ≤ t. The thresholds are
 * −∞ and every distinct distance, ascending; at each, TAR = same pairs with d ≤ t / same pairs
 * and FAR = different pairs with d ≤ t / different pairs.
 *   accuracy, threshold  the best (TAR·P + (1 − FAR)·N) / n, at the smallest t reaching it
 *   rocAuc               the trapezoid area under the (FAR, TAR) points: ties count one half
 *   tarAtFar             the largest TAR with FAR ≤ far
 *   eer                  FAR where FAR = 1 − TAR, linearly interpolated between ROC points
 */
import type { VerificationOptions, VerificationResult } from '../backend'
import { invalidArgument } from './common'
import { distance, normalizeRows, parseMetric } from './distance'

export function verificationMetrics(a: Float32Array, b: Float32Array, rows: number, cols: number, same: Uint8Array,
  opts?: VerificationOptions | null): VerificationResult {
  const metric = parseMetric(opts?.metric)
  const far = opts?.far ?? 1e-3
  if (same.length !== rows) throw invalidArgument(`same: expected ${rows} flags (one per pair), received ${same.length}`)
  if (!(far >= 0 && far <= 1)) throw invalidArgument(`opts.far: expected a rate from 0 to 1, received ${far}`)
  let positives = 0
  for (let i = 0; i < rows; i++) if (same[i] !== 0) positives++
  const negatives = rows - positives
  if (positives === 0 || negatives === 0) {
    throw invalidArgument(`same: expected at least one same and one different pair, received ${positives} same and ${negatives} different`)
  }
  const x = opts?.normalize ? normalizeRows(a, rows, cols) : a
  const y = opts?.normalize ? normalizeRows(b, rows, cols) : b
  const pairs = Array.from({ length: rows }, (_, i) => ({ d: distance(x, i * cols, y, i * cols, cols, metric), same: same[i] !== 0 }))
  pairs.sort((u, v) => u.d - v.d)
  let posLe = 0
  let negLe = 0
  let accuracy = negatives / rows
  let threshold = -Infinity
  let tarAtFar = 0
  const roc: [number, number][] = [[0, 0]]
  for (let i = 0; i < rows;) {
    const d = pairs[i].d
    for (; i < rows && pairs[i].d === d; i++) {
      if (pairs[i].same) posLe++
      else negLe++
    }
    const tar = posLe / positives
    const fa = negLe / negatives
    const acc = (posLe + negatives - negLe) / rows
    if (acc > accuracy) {
      accuracy = acc
      threshold = d
    }
    if (fa <= far) tarAtFar = Math.max(tarAtFar, tar)
    roc.push([fa, tar])
  }
  let rocAuc = 0
  let eer = 1
  let found = false
  for (let k = 1; k < roc.length; k++) {
    const [x0, y0] = roc[k - 1]
    const [x1, y1] = roc[k]
    rocAuc += (x1 - x0) * (y0 + y1) / 2
    const f0 = x0 - (1 - y0)
    const f1 = x1 - (1 - y1)
    if (!found && f0 <= 0 && f1 >= 0) {
      eer = x0 + (f1 === f0 ? 0 : f0 / (f0 - f1)) * (x1 - x0)
      found = true
    }
  }
  return { accuracy, threshold, rocAuc, tarAtFar, eer }
}
