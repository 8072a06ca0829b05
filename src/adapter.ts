/**
 * fitLinearAdapter: a linear map W of fixed embeddings (from a model one cannot fine-tune, such
 * as a hosted embedding API) trained with the triplet loss and online mining, as the demo does by
 * hand: each step takes P classes × 4 rows, E = X·W, `tripletLoss` gives ∂loss/∂E on the chosen
 * device, ∂loss/∂W = Xᵀ·∂loss/∂E, and Adam updates W.
 */

import { gatherRows, groupByLabel, identity, negated, productOn, seeded, transpose } from './linalg'
import { pairwiseDistances, pairwiseDistancesSync } from './pairwise'
import { tripletLoss, tripletLossSync } from './loss'
import { toMatrix } from './matrix'
import { DEFAULT_MARGIN, labelledRows } from './mining'
import { retrievalMetrics, retrievalMetricsSync } from './retrieval'
import type { Labels, LinearAdapter, LinearAdapterOptions, LossResult, Matrix, MatrixLike, Strategy } from './types'
import { checkCallback, checkCommon, checkFinite, checkInteger, checkStrategy, toLabels } from './validate'
import { abortError } from './errors'
import { OPTION_KEYS, readOptions } from './options'

/** Rows drawn from each class per step. */
const PER_CLASS = 4

interface Fit {
  x: Matrix
  labels: Int32Array
  dim: number
  epochs: number
  batchSize: number
  learningRate: number
  random: () => number
  metricOpts: { metric: LinearAdapterOptions['metric']; normalize: boolean; device: LinearAdapterOptions['device'] }
  lossOpts: Fit['metricOpts'] & { mining: Strategy; margin: number }
  validation: { x: Matrix; labels: Int32Array } | undefined
  signal: AbortSignal | undefined
  onProgress: LinearAdapterOptions['onProgress']
}

function prepare(embeddings: MatrixLike, labels: Labels, opts: LinearAdapterOptions | undefined): Fit {
  const o = readOptions(opts, OPTION_KEYS.adapter)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const common = checkCommon(o)
  const dim = checkInteger(o.dim ?? x.cols, 'opts.dim', 1)
  const epochs = checkInteger(o.epochs ?? 10, 'opts.epochs', 0)
  const batchSize = checkInteger(o.batchSize ?? 64, 'opts.batchSize', 2 * PER_CLASS, Number.MAX_SAFE_INTEGER,
    `an integer ≥ ${2 * PER_CLASS} (two classes of ${PER_CLASS} rows)`)
  const learningRate = checkFinite(o.learningRate, 'opts.learningRate', 0.01)
  const seed = checkInteger(o.seed ?? 0, 'opts.seed', Number.MIN_SAFE_INTEGER)
  const mining = checkStrategy(o.mining, 'opts.mining', 'batch-hard')
  const margin = checkFinite(o.margin, 'opts.margin', DEFAULT_MARGIN)
  // Each step draws classes of 2 rows or more; two of them make a triplet possible.
  if ([...groupByLabel(y).values()].filter((rows) => rows.length >= 2).length < 2) {
    throw new RangeError('labels: expected at least 2 classes with 2 rows or more each, to sample batches with triplets from')
  }
  let validation: Fit['validation']
  if (o.validation !== undefined) {
    const v = readOptions(o.validation, OPTION_KEYS.validation, 'opts.validation', true)
    validation = labelledRows(v.embeddings, v.labels, 'opts.validation.embeddings', 'opts.validation.labels', x)
  }
  // An aborted signal ends the call even when there is no epoch to run.
  if (common.signal?.aborted) throw abortError(common.signal)
  return {
    x, labels: y, dim, epochs, batchSize, learningRate, random: seeded(seed),
    metricOpts: { metric: common.metric, normalize: common.normalize, device: o.device },
    lossOpts: { mining, margin, metric: common.metric, normalize: common.normalize, device: o.device },
    validation, signal: common.signal,
    onProgress: checkCallback(o.onProgress, 'opts.onProgress'),
  }
}

/** The rows of one step: P classes (of those with two rows or more) × up to 4 rows each. */
function* batches(fit: Fit): Generator<number[]> {
  const classes = [...groupByLabel(fit.labels).values()].filter((rows) => rows.length >= 2)
  const perStep = Math.max(2, Math.floor(fit.batchSize / PER_CLASS))
  const steps = Math.max(1, Math.ceil(fit.x.rows / fit.batchSize))
  for (let step = 0; step < steps; step++) {
    const chosen = shuffle(classes.slice(), fit.random).slice(0, perStep)
    yield chosen.flatMap((rows) => shuffle(rows.slice(), fit.random).slice(0, PER_CLASS))
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

/** Adam on W, with its moments. */
class Adam {
  private readonly m: Float64Array
  private readonly v: Float64Array
  private t = 0
  constructor(private readonly w: Float32Array, private readonly rate: number) {
    this.m = new Float64Array(w.length)
    this.v = new Float64Array(w.length)
  }
  step(g: ArrayLike<number>): void {
    const [b1, b2] = [0.9, 0.999]
    this.t++
    for (let i = 0; i < this.w.length; i++) {
      this.m[i] = b1 * this.m[i] + (1 - b1) * g[i]
      this.v[i] = b2 * this.v[i] + (1 - b2) * g[i] * g[i]
      const mHat = this.m[i] / (1 - b1 ** this.t)
      const vHat = this.v[i] / (1 - b2 ** this.t)
      this.w[i] -= (this.rate * mHat) / (Math.sqrt(vHat) + 1e-8)
    }
  }
}

function result(fit: Fit, w: Float32Array, history: LinearAdapter['history']): LinearAdapter {
  const { cols } = fit.x
  const weights: Matrix = { data: w, rows: cols, cols: fit.dim }
  return {
    weights,
    transform: (input: MatrixLike) => {
      const m = toMatrix(input, 'x')
      if (m.rows > 0 && m.cols !== cols) throw new RangeError(`x: expected ${cols} columns (the adapter's input size), received ${m.cols}`)
      return productOn(m.rows > 0 ? m : { data: m.data, rows: 0, cols }, w, fit.dim, fit.metricOpts.device)
    },
    history,
  }
}

/**
 * What the training loop asks its driver to compute on the device, sync or async: a loss, a
 * validation MAP@R, or a product A·Bᵀ (one GEMM, as −pairwiseDistances under 'dot').
 */
type Request = { loss: [Matrix, number[]] } | { mapAtR: Matrix } | { product: [Matrix, Matrix] }

/**
 * The training loop, written once: it yields each loss and validation it needs and receives
 * the result (a LossResult, or a MAP@R), so the sync and async twins only differ in how they
 * answer.
 */
function* train(fit: Fit): Generator<Request, LinearAdapter, unknown> {
  const w = identity(fit.x.cols, fit.dim)
  const adam = new Adam(w, fit.learningRate)
  const history: LinearAdapter['history'] = []
  let best: { mapAtR: number; w: Float32Array } | undefined
  for (let epoch = 1; epoch <= fit.epochs; epoch++) {
    let [sum, steps] = [0, 0]
    for (const rows of batches(fit)) {
      if (fit.signal?.aborted) throw abortError(fit.signal)
      const x = gatherRows(fit.x, rows)
      const wt = transpose({ data: w, rows: fit.x.cols, cols: fit.dim })
      const e = (yield { product: [x, wt] }) as Matrix // E = X·W
      const r = (yield { loss: [e, rows.map((i) => fit.labels[i])] }) as LossResult
      const g = (yield { product: [transpose(x), transpose(r.grad)] }) as Matrix // ∂W = Xᵀ·∂E
      adam.step(g.data)
      sum += r.loss
      steps++
    }
    const loss = steps > 0 ? sum / steps : 0
    if (fit.validation === undefined) {
      history.push({ epoch, loss })
      fit.onProgress?.(epoch, fit.epochs, { loss })
      continue
    }
    const wt = transpose({ data: w, rows: fit.x.cols, cols: fit.dim })
    const adapted = (yield { product: [fit.validation.x, wt] }) as Matrix
    const mapAtR = (yield { mapAtR: adapted }) as number
    if (best === undefined || mapAtR > best.mapAtR) best = { mapAtR, w: w.slice() }
    history.push({ epoch, loss, mapAtR })
    fit.onProgress?.(epoch, fit.epochs, { loss, mapAtR })
  }
  return result(fit, best?.w ?? w, history)
}

/**
 * Learns W (`cols × dim`) so that x·W embeds these labels better, by triplet loss with online
 * mining (Schultz & Joachims 2003 learned a metric from relative comparisons this way): for
 * embeddings from a model you cannot fine-tune, such as a hosted embedding API. W starts as the
 * identity; each step samples classes × 4 rows, mines them with `mining`, and takes one Adam
 * step on W. With `validation`, each epoch is measured by MAP@R on it and the best epoch's W is
 * returned. The loss runs on `device`.
 *
 * @param embeddings - `rows × cols` training embeddings.
 * @param labels - one class id per row.
 * @param opts - `dim`, `epochs` (10), `batchSize` (64), `learningRate` (0.01), `seed`, `mining`
 *   ('batch-hard'), `margin` (0.2), `metric`, `normalize`, `validation`, `device`, `signal`,
 *   `onProgress`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const adapter = await fitLinearAdapter(train, trainLabels, { validation: { embeddings: valid, labels: validLabels } })
 * const better = adapter.transform(queries)
 */
export async function fitLinearAdapter(embeddings: MatrixLike, labels: Labels, opts?: LinearAdapterOptions): Promise<LinearAdapter> {
  const fit = prepare(embeddings, labels, opts)
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    const { device, signal } = { device: fit.metricOpts.device, signal: fit.signal }
    r = loop.next('loss' in q
      ? await tripletLoss(q.loss[0], q.loss[1], { ...fit.lossOpts, signal })
      : 'product' in q
        ? negated(await pairwiseDistances(q.product[0], q.product[1], { metric: 'dot', device, signal }))
        : (await retrievalMetrics(q.mapAtR, fit.validation!.labels, { ...fit.metricOpts, signal })).mapAtR)
  }
}

/** Synchronous twin of {@link fitLinearAdapter}: same arguments, returns the adapter directly. */
export function fitLinearAdapterSync(embeddings: MatrixLike, labels: Labels, opts?: LinearAdapterOptions): LinearAdapter {
  const fit = prepare(embeddings, labels, opts)
  const loop = train(fit)
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value
    const q = r.value
    r = loop.next('loss' in q
      ? tripletLossSync(q.loss[0], q.loss[1], fit.lossOpts)
      : 'product' in q
        ? negated(pairwiseDistancesSync(q.product[0], q.product[1], { metric: 'dot', device: fit.metricOpts.device }))
        : retrievalMetricsSync(q.mapAtR, fit.validation!.labels, fit.metricOpts).mapAtR)
  }
}
