/**
 * fitOasis: OASIS (Chechik, Sharma, Shalit & Bengio, "Large Scale Online Learning of Image
 * Similarity Through Ranking", JMLR 2010), a bilinear similarity s(x, y) = xᵀ W y learned
 * online from sampled triplets by passive-aggressive steps. Each tenth of the steps is one call
 * of the device's `oasisSteps` (off the main thread on a native device), and the validation's
 * similarity matrix runs on the device too.
 */

import type { Backend, OasisResult } from './backend'
import { nativeDevice, resolveDevice, type Target } from './device'
import { abortError } from './errors'
import { checkSampleable, identity, negated, productOn } from './linalg'
import { toMatrix } from './matrix'
import { labelledRows } from './mining'
import { pairwiseDistances, pairwiseDistancesSync } from './pairwise'
import { runSync, startOp, withSignal } from './run'
import type { Device, Labels, Matrix, MatrixLike, OasisModel, OasisOptions } from './types'
import { DEVICES, checkCallback, checkEnum, checkFinite, checkInteger, checkSignal, toLabels } from './validate'
import { OPTION_KEYS, readOptions } from './options'

interface Fit {
  x: Matrix
  labels: Int32Array
  c: number
  steps: number
  seed: number
  validation: { x: Matrix; labels: Int32Array } | undefined
  device: Device
  signal: AbortSignal | undefined
  onProgress: OasisOptions['onProgress']
}

function prepare(embeddings: MatrixLike, labels: Labels, opts: OasisOptions | undefined): Fit {
  const o = readOptions(opts, OPTION_KEYS.oasis)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const c = checkFinite(o.c, 'opts.c', 0.1)
  if (c <= 0) throw new RangeError(`opts.c: expected a positive number, received ${c}`)
  const steps = checkInteger(o.steps ?? 100 * x.rows, 'opts.steps', 0)
  const seed = checkInteger(o.seed ?? 0, 'opts.seed', Number.MIN_SAFE_INTEGER)
  if (steps > 0) checkSampleable(y)
  let validation: Fit['validation']
  if (o.validation !== undefined) {
    const v = readOptions(o.validation, OPTION_KEYS.validation, 'opts.validation', true)
    validation = labelledRows(v.embeddings, v.labels, 'opts.validation.embeddings', 'opts.validation.labels', x)
  }
  const signal = checkSignal(o.signal)
  // An aborted signal ends the call even when there is no step to run.
  if (signal?.aborted) throw abortError(signal)
  return {
    x, labels: y, c, steps, seed, validation,
    device: checkEnum(o.device, 'opts.device', DEVICES, 'auto'),
    signal,
    onProgress: checkCallback(o.onProgress, 'opts.onProgress'),
  }
}

/**
 * MAP@R (as retrievalMetrics defines it) of a set searched against itself under the distances
 * `d` (rows × rows; smaller = closer, ties to the lower index), the query itself left out.
 */
export function mapAtRFromDistances(d: Float32Array, labels: Int32Array): number {
  const n = labels.length
  let [sum, kept] = [0, 0]
  for (let i = 0; i < n; i++) {
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)
    const r = others.filter((j) => labels[j] === labels[i]).length
    if (r === 0) continue
    others.sort((u, v) => d[i * n + u] - d[i * n + v] || u - v)
    let [hits, ap] = [0, 0]
    for (let k = 0; k < r; k++) {
      if (labels[others[k]] === labels[i]) ap += ++hits / (k + 1)
    }
    sum += ap / r
    kept++
  }
  return kept > 0 ? sum / kept : 0
}

/** What the loop asks its driver: a run of steps on the device, or validation distances. */
type Request = { steps: number; w: Float64Array; state: number } | { distances: Matrix }

/**
 * The loop, written once: each tenth of the steps runs as one device call from the current W
 * and sampling state, then is reported (and validated); the sync and async twins only differ
 * in how they answer.
 */
function* train(fit: Fit): Generator<Request, OasisModel, unknown> {
  const d = fit.x.cols
  let w: Float64Array = Float64Array.from(identity(d, d))
  let state = fit.seed >>> 0
  const history: OasisModel['history'] = []
  const every = Math.max(1, Math.floor(fit.steps / 10))
  for (let done = 0; done < fit.steps;) {
    const steps = Math.min(every, fit.steps - done)
    const r = (yield { steps, w, state }) as OasisResult
    ;[w, state, done] = [r.weights, r.state, done + steps]
    const loss = r.lossSum / steps
    let mapAtR: number | undefined
    if (fit.validation !== undefined) {
      const dist = (yield { distances: productOn(fit.validation.x, Float32Array.from(w), d, fit.device) }) as Float32Array
      mapAtR = mapAtRFromDistances(dist, fit.validation.labels)
    }
    history.push(mapAtR === undefined ? { step: done, loss } : { step: done, loss, mapAtR })
    fit.onProgress?.(done, fit.steps, mapAtR === undefined ? { loss } : { loss, mapAtR })
  }
  return model(Float32Array.from(w), d, history, fit.device)
}

function model(w: Float32Array, d: number, history: OasisModel['history'], device: Device): OasisModel {
  const check = (input: MatrixLike, name: string): Matrix => {
    const m = toMatrix(input, name)
    if (m.rows > 0 && m.cols !== d) throw new RangeError(`${name}: expected ${d} columns (the model's input size), received ${m.cols}`)
    return m.rows > 0 ? m : { data: m.data, rows: 0, cols: d }
  }
  const transform = (x: MatrixLike): Matrix => productOn(check(x, 'x'), w, d, device)
  return {
    weights: { data: w, rows: d, cols: d },
    transform,
    similarity: (a: MatrixLike, b: MatrixLike): Matrix => {
      const [ta, mb] = [transform(a), check(b, 'b')]
      if (ta.rows === 0 || mb.rows === 0) return { data: new Float32Array(0), rows: ta.rows, cols: mb.rows }
      // s(a_i, b_j) = (a_i·W)·b_j: one GEMM on the device, as −pairwiseDistances under 'dot'.
      return negated(pairwiseDistancesSync(ta, mb, { metric: 'dot', device }))
    },
    history,
  }
}

/**
 * Learns a bilinear similarity s(x, y) = xᵀ W y with OASIS (Chechik, Sharma, Shalit & Bengio,
 * JMLR 2010). W (`cols × cols`) starts at the identity; each step samples a triplet (a, p, n)
 * uniformly (a ≠ p share a label, n does not), and when l = max(0, 1 − s(a, p) + s(a, n)) > 0
 * takes the passive-aggressive step W ← W + τ V, V = a (p − n)ᵀ, τ = min(C, l / ‖V‖²_F).
 * `steps: 0` returns the identity. `transform(x)` is x·W, so knn and retrievalMetrics with
 * metric 'dot' between transform(queries) and the raw corpus rank by s; `similarity(a, b)` is
 * the matrix of s. With `validation`, MAP@R under s (each row against the others) is measured
 * at every tenth of the steps, its similarity matrix on `device`.
 *
 * @param embeddings - `rows × cols` training embeddings.
 * @param labels - one class id per row.
 * @param opts - `c` (0.1), `steps` (100 × rows), `seed` (0), `validation`, `device`, `signal`,
 *   `onProgress`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const oasis = await fitOasis(train, trainLabels, { steps: 50_000 })
 * const ranked = await knn(oasis.transform(queries), corpus, { k: 10, metric: 'dot' })
 */
export async function fitOasis(embeddings: MatrixLike, labels: Labels, opts?: OasisOptions): Promise<OasisModel> {
  const fit = prepare(embeddings, labels, opts)
  const target = resolveDevice(fit.device, { op: 'fitOasis', macs: 0, bytes: 0 })
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    if ('steps' in q) {
      const args = stepArgs(fit, target, q)
      r = loop.next(await withSignal(fit.signal, () => startOp(target, (b) => b.oasisSteps(...args), (n, token) => n.oasisStepsAsync(...args, token), fit.signal)))
    } else {
      r = loop.next((await pairwiseDistances(q.distances, fit.validation!.x, { metric: 'dot', device: fit.device, signal: fit.signal })).data)
    }
  }
}

/** Synchronous twin of {@link fitOasis}: same arguments, returns the model directly. */
export function fitOasisSync(embeddings: MatrixLike, labels: Labels, opts?: OasisOptions): OasisModel {
  const fit = prepare(embeddings, labels, opts)
  const target = resolveDevice(fit.device, { op: 'fitOasis', macs: 0, bytes: 0 })
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    if ('steps' in q) {
      const args = stepArgs(fit, target, q)
      r = loop.next(runSync(target, (b) => b.oasisSteps(...args), fit.signal))
    } else {
      r = loop.next(pairwiseDistancesSync(q.distances, fit.validation!.x, { metric: 'dot', device: fit.device }).data)
    }
  }
}

/** The backend arguments of a run of steps. */
function stepArgs(fit: Fit, target: Target, q: { steps: number; w: Float64Array; state: number }): Parameters<Backend['oasisSteps']> {
  return [fit.x.data, fit.x.rows, fit.x.cols, fit.labels, q.w, { c: fit.c, steps: q.steps, state: q.state, device: nativeDevice(target) }]
}
