/**
 * fitOasis: OASIS (Chechik, Sharma, Shalit & Bengio, "Large Scale Online Learning of Image
 * Similarity Through Ranking", JMLR 2010), a bilinear similarity s(x, y) = xᵀ W y learned
 * online from sampled triplets by passive-aggressive steps. The steps are sequential rank-one
 * updates of W and run here; the validation's similarity matrix runs on the chosen device.
 */

import { abortError } from './errors'
import { checkSampleable, groupByLabel, identity, multiply, seeded } from './linalg'
import { toMatrix } from './matrix'
import { labelledRows } from './mining'
import { pairwiseDistances, pairwiseDistancesSync } from './pairwise'
import type { Labels, Matrix, MatrixLike, OasisModel, OasisOptions } from './types'
import { DEVICES, checkCallback, checkEnum, checkFinite, checkInteger, checkOptions, checkSignal, toLabels } from './validate'

interface Fit {
  x: Matrix
  labels: Int32Array
  c: number
  steps: number
  random: () => number
  validation: { x: Matrix; labels: Int32Array } | undefined
  device: OasisOptions['device']
  signal: AbortSignal | undefined
  onProgress: OasisOptions['onProgress']
}

function prepare(embeddings: MatrixLike, labels: Labels, opts: OasisOptions | undefined): Fit {
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const o = checkOptions(opts)
  const c = checkFinite(o.c, 'opts.c', 0.1)
  if (c <= 0) throw new RangeError(`opts.c: expected a positive number, received ${c}`)
  const steps = checkInteger(o.steps ?? 100 * x.rows, 'opts.steps', 0)
  const seed = checkInteger(o.seed ?? 0, 'opts.seed', Number.MIN_SAFE_INTEGER)
  if (steps > 0) checkSampleable(y)
  let validation: Fit['validation']
  if (o.validation !== undefined) {
    const v = checkOptions(o.validation, 'opts.validation', true)
    validation = labelledRows(v.embeddings, v.labels, 'opts.validation.embeddings', 'opts.validation.labels', x)
  }
  return {
    x, labels: y, c, steps, random: seeded(seed), validation,
    device: checkEnum(o.device, 'opts.device', DEVICES, 'auto'),
    signal: checkSignal(o.signal),
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

/** What the loop asks its driver: a breath on the event loop, or validation distances. */
type Request = { pause: true } | { distances: Matrix }

function* train(fit: Fit): Generator<Request, OasisModel, unknown> {
  const { x, labels, c } = fit
  const d = x.cols
  const w = Float64Array.from(identity(d, d))
  // Sampling pools: anchors with a positive and a negative; each class's rows; everything else.
  const byClass = groupByLabel(labels)
  const anchors = Array.from({ length: x.rows }, (_, i) => i)
    .filter((i) => byClass.get(labels[i])!.length >= 2 && byClass.get(labels[i])!.length < x.rows)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(fit.random() * items.length)]
  const row = (i: number) => x.data.subarray(i * d, (i + 1) * d)
  const diff = new Float64Array(d)
  const history: OasisModel['history'] = []
  const every = Math.max(1, Math.floor(fit.steps / 10))
  let [sum, count] = [0, 0]
  let breath = performance.now()
  for (let step = 1; step <= fit.steps && anchors.length > 0; step++) {
    const a = pick(anchors)
    const same = byClass.get(labels[a])!
    let p = a
    while (p === a) p = pick(same)
    let n = a
    while (labels[n] === labels[a]) n = Math.floor(fit.random() * x.rows)
    const [ra, rp, rn] = [row(a), row(p), row(n)]
    // l = max(0, 1 − aᵀ W (p − n)); V = a (p − n)ᵀ, ‖V‖²_F = ‖a‖² ‖p − n‖².
    let [gap, aa, dd] = [0, 0, 0]
    for (let j = 0; j < d; j++) diff[j] = rp[j] - rn[j]
    for (let i = 0; i < d; i++) {
      let wi = 0
      for (let j = 0; j < d; j++) wi += w[i * d + j] * diff[j]
      gap += ra[i] * wi
      aa += ra[i] * ra[i]
    }
    for (let j = 0; j < d; j++) dd += diff[j] * diff[j]
    const loss = Math.max(0, 1 - gap)
    if (loss > 0 && aa * dd > 0) {
      const tau = Math.min(c, loss / (aa * dd))
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) w[i * d + j] += tau * ra[i] * diff[j]
    }
    sum += loss
    count++
    // A breath every few milliseconds, so that an async fit lets the event loop run and sees an abort.
    if (performance.now() - breath > 10) {
      yield { pause: true }
      if (fit.signal?.aborted) throw abortError(fit.signal)
      breath = performance.now()
    }
    if (step % every === 0 || step === fit.steps) {
      if (fit.signal?.aborted) throw abortError(fit.signal)
      const mean = sum / count
      let mapAtR: number | undefined
      if (fit.validation !== undefined) {
        const dist = (yield { distances: multiply(fit.validation.x, Float32Array.from(w), d) }) as Float32Array
        mapAtR = mapAtRFromDistances(dist, fit.validation.labels)
      }
      history.push(mapAtR === undefined ? { step, loss: mean } : { step, loss: mean, mapAtR })
      fit.onProgress?.(step, fit.steps, mapAtR === undefined ? { loss: mean } : { loss: mean, mapAtR })
      ;[sum, count] = [0, 0]
    }
  }
  return model(Float32Array.from(w), d, history)
}

function model(w: Float32Array, d: number, history: OasisModel['history']): OasisModel {
  const check = (input: MatrixLike, name: string): Matrix => {
    const m = toMatrix(input, name)
    if (m.rows > 0 && m.cols !== d) throw new RangeError(`${name}: expected ${d} columns (the model's input size), received ${m.cols}`)
    return m.rows > 0 ? m : { data: m.data, rows: 0, cols: d }
  }
  const transform = (x: MatrixLike): Matrix => multiply(check(x, 'x'), w, d)
  return {
    weights: { data: w, rows: d, cols: d },
    transform,
    similarity: (a: MatrixLike, b: MatrixLike): Matrix => {
      const [ta, mb] = [transform(a), check(b, 'b')]
      const out = new Float32Array(ta.rows * mb.rows)
      for (let i = 0; i < ta.rows; i++) {
        for (let j = 0; j < mb.rows; j++) {
          let s = 0
          for (let k = 0; k < d; k++) s += ta.data[i * d + k] * mb.data[j * d + k]
          out[i * mb.rows + j] = s
        }
      }
      return { data: out, rows: ta.rows, cols: mb.rows }
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
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    if ('pause' in q) {
      // A breath between tenths, so that the event loop runs and an abort is seen.
      await new Promise((resolve) => setImmediate(resolve))
      r = loop.next()
      continue
    }
    const v = fit.validation!.x
    r = loop.next((await pairwiseDistances(q.distances, v, { metric: 'dot', device: fit.device, signal: fit.signal })).data)
  }
}

/** Synchronous twin of {@link fitOasis}: same arguments, returns the model directly. */
export function fitOasisSync(embeddings: MatrixLike, labels: Labels, opts?: OasisOptions): OasisModel {
  const fit = prepare(embeddings, labels, opts)
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    r = 'pause' in q ? loop.next() : loop.next(pairwiseDistancesSync(q.distances, fit.validation!.x, { metric: 'dot', device: fit.device }).data)
  }
}
