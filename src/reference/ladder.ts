/**
 * Ladder loss (API.md `ladderLoss`; Zhou et al., AAAI 2020), plainly: for each rung l and
 * query, the candidates with relevance ≥ θ_l are "above" and the rest "below"; the hardest
 * pair costs [α_l − min_above s + max_below s]₊ (ties to the lower index), or every pair
 * [α_l − s(q, c⁺) + s(q, c⁻)]₊ averaged; loss = Σ_l β_l · mean over queries. Similarities in
 * float64 (cosine similarity = 1 − cosine distance, dot = −dot distance), gradients pair by pair.
 */
import type { LadderOptions, LadderResult } from '../backend'
import { gradToFloat32, invalidArgument } from './common'
import { distance, distanceGrad } from './distance'

export function ladderLoss(queries: Float32Array, candidates: Float32Array, relevance: Float32Array, queryRows: number,
  candidateRows: number, cols: number, opts: LadderOptions): LadderResult {
  const similarity = opts.similarity ?? 'cosine'
  if (similarity !== 'cosine' && similarity !== 'dot') {
    throw invalidArgument(`similarity: expected 'cosine' or 'dot', received '${similarity}'`)
  }
  const { thresholds, margins } = opts
  const weights = opts.weights ?? thresholds.map(() => 1)
  if (thresholds.length === 0) throw invalidArgument('opts.thresholds: expected at least one threshold, received none')
  if (margins.length !== thresholds.length) {
    throw invalidArgument(`opts.margins: expected ${thresholds.length} numbers (one per threshold), received ${margins.length}`)
  }
  if (weights.length !== thresholds.length) {
    throw invalidArgument(`opts.weights: expected ${thresholds.length} numbers (one per threshold), received ${weights.length}`)
  }
  for (let i = 1; i < thresholds.length; i++) {
    if (!(thresholds[i] < thresholds[i - 1])) {
      throw invalidArgument(`opts.thresholds[${i}]: expected less than opts.thresholds[${i - 1}] = ${thresholds[i - 1]} (θ₁ > θ₂ > …), received ${thresholds[i]}`)
    }
  }
  // s = const − d; only differences of s matter, so −d serves for both similarities.
  const s = (i: number, j: number): number => -distance(queries, i * cols, candidates, j * cols, cols, similarity)
  const gq = new Float64Array(queryRows * cols)
  const gc = new Float64Array(candidateRows * cols)
  // Adds coef · ∂s(q_i, c_j) = −coef · ∂d.
  const addGrad = (i: number, j: number, coef: number): void =>
    distanceGrad(queries, i * cols, candidates, j * cols, cols, similarity, -coef, gq, i * cols, gc, j * cols)
  let loss = 0
  for (let l = 0; l < thresholds.length; l++) {
    const w = weights[l] / queryRows
    for (let i = 0; i < queryRows; i++) {
      const above: number[] = []
      const below: number[] = []
      for (let j = 0; j < candidateRows; j++) (relevance[i * candidateRows + j] >= thresholds[l] ? above : below).push(j)
      if (above.length === 0 || below.length === 0) continue
      if (opts.hardest ?? true) {
        let p = above[0]
        for (const j of above) if (s(i, j) < s(i, p)) p = j
        let n = below[0]
        for (const j of below) if (s(i, j) > s(i, n)) n = j
        const h = margins[l] - s(i, p) + s(i, n)
        if (h > 0) {
          loss += w * h
          addGrad(i, p, -w)
          addGrad(i, n, w)
        }
      } else {
        const wp = w / (above.length * below.length)
        for (const p of above) {
          for (const n of below) {
            const h = margins[l] - s(i, p) + s(i, n)
            if (h > 0) {
              loss += wp * h
              addGrad(i, p, -wp)
              addGrad(i, n, wp)
            }
          }
        }
      }
    }
  }
  return { loss, gradQueries: gradToFloat32(gq), gradCandidates: gradToFloat32(gc) }
}
