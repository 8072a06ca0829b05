/**
 * OASIS steps (Chechik et al., JMLR 2010), plainly, as the native core takes them: the same
 * mulberry32 sampling stream from the same state, so both devices draw the same triplets.
 * Each step: an anchor with a positive and a negative, a positive (another row of its label),
 * a negative (a row of another label); l = max(0, 1 − aᵀW(p − n)); when l > 0,
 * W ← W + τ a (p − n)ᵀ with τ = min(C, l / (‖a‖² ‖p − n‖²)).
 */
import type { OasisResult, OasisStepOptions } from '../backend'
import { invalidArgument } from './common'
import { checkLabels } from './rules'

export function oasisSteps(x: Float32Array, rows: number, cols: number, labels: Int32Array, weights: Float64Array,
  opts: OasisStepOptions): OasisResult {
  checkLabels('labels', labels, rows)
  const d = cols
  if (weights.length !== d * d) throw invalidArgument(`weights: expected ${d} × ${d} values, received ${weights.length}`)
  if (!(Number.isFinite(opts.c) && opts.c > 0)) throw invalidArgument(`c: expected a positive number, received ${opts.c}`)
  const w = Float64Array.from(weights)
  let state = opts.state | 0
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = (n: number): number => Math.floor(uniform() * n)
  const byClass = new Map<number, number[]>()
  labels.forEach((l, i) => {
    const list = byClass.get(l)
    if (list === undefined) byClass.set(l, [i])
    else list.push(i)
  })
  const anchors: number[] = []
  for (let i = 0; i < rows; i++) {
    const size = byClass.get(labels[i])!.length
    if (size >= 2 && size < rows) anchors.push(i)
  }
  let lossSum = 0
  const diff = new Float64Array(d)
  for (let step = 0; step < opts.steps && anchors.length > 0; step++) {
    const a = anchors[pick(anchors.length)]
    const same = byClass.get(labels[a])!
    let p = a
    while (p === a) p = same[pick(same.length)]
    let n = a
    while (labels[n] === labels[a]) n = pick(rows)
    let gap = 0, aa = 0, dd = 0
    for (let j = 0; j < d; j++) diff[j] = x[p * d + j] - x[n * d + j]
    for (let i = 0; i < d; i++) {
      let wi = 0
      for (let j = 0; j < d; j++) wi += w[i * d + j] * diff[j]
      gap += x[a * d + i] * wi
      aa += x[a * d + i] * x[a * d + i]
    }
    for (let j = 0; j < d; j++) dd += diff[j] * diff[j]
    const loss = Math.max(0, 1 - gap)
    if (loss > 0 && aa * dd > 0) {
      const tau = Math.min(opts.c, loss / (aa * dd))
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) w[i * d + j] += tau * x[a * d + i] * diff[j]
    }
    lossSum += loss
  }
  return { weights: w, state: state >>> 0, lossSum }
}
