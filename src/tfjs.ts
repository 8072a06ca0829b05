/**
 * tripletkit/tfjs: the triplet loss as a TensorFlow.js loss function whose gradient is
 * tripletkit's own (`tf.customGrad`), so any tfjs model trains with online batch-hard,
 * batch-semihard or set-strategy triplet mining. `@tensorflow/tfjs` (or `@tensorflow/tfjs-node`)
 * is an optional peer dependency: this entry point loads it, the rest of tripletkit does not.
 *
 * @module tripletkit/tfjs
 */

import type * as tfTypes from '@tensorflow/tfjs-core'
import { contrastiveLossSync } from './contrastive'
import { ladderLossSync } from './ladder'
import { tripletLossSync } from './loss'
import { tripletMarginLossSync } from './marginLoss'
import { readOptions, OPTION_KEYS, type Keys } from './options'
import { multipleNegativesRankingLossSync } from './ranking'
import { supConLossSync } from './supCon'
import type {
  ContrastiveLossOptions, LadderLossOptions, Matrix, MultipleNegativesRankingLossOptions, SupConLossOptions, TripletLossOptions, TripletMarginLossOptions,
} from './types'

type Tf = typeof tfTypes

let loaded: Tf | undefined

/** The TensorFlow.js the application uses: tfjs-node if installed, else tfjs, else tfjs-core. */
function tf(): Tf {
  if (loaded !== undefined) return loaded
  for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs', '@tensorflow/tfjs-core']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (loaded = require(name) as Tf)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err
    }
  }
  throw new Error('tripletkit/tfjs needs TensorFlow.js: npm install @tensorflow/tfjs (or @tensorflow/tfjs-node)')
}

/** The options of {@link tfTripletLoss}: those of tripletLoss but a signal (the call is synchronous). */
export type TfTripletLossOptions = Omit<TripletLossOptions, 'signal'>
/** The options of {@link tfContrastiveLoss}: those of contrastiveLoss but a signal. */
export type TfContrastiveLossOptions = Omit<ContrastiveLossOptions, 'signal'>
/** The options of {@link tfTripletMarginLoss}: those of tripletMarginLoss but a signal. */
export type TfTripletMarginLossOptions = Omit<TripletMarginLossOptions, 'signal'>
/** The options of {@link tfMultipleNegativesRankingLoss}: those of multipleNegativesRankingLoss but a signal and the negatives (an argument here). */
export type TfMultipleNegativesRankingLossOptions = Omit<MultipleNegativesRankingLossOptions, 'signal' | 'negatives'>
/** The options of {@link tfSupConLoss}: those of supConLoss but a signal. */
export type TfSupConLossOptions = Omit<SupConLossOptions, 'signal'>
/** The options of {@link tfLadderLoss}: those of ladderLoss but a signal. */
export type TfLadderLossOptions = Omit<LadderLossOptions, 'signal'>

/** `keys` less `drop`, typed as the remaining keys. */
function without<K extends string, D extends K>(keys: readonly K[], ...drop: D[]): Exclude<K, D>[] {
  return keys.filter((k): k is Exclude<K, D> => !(drop as string[]).includes(k))
}

/** `value` checked to be a 2-D tf.Tensor, named `name` in messages. */
function checked2d(t: Tf, value: unknown, name: string): tfTypes.Tensor {
  if (!(value instanceof t.Tensor) || value.rank !== 2) {
    throw new TypeError(`${name}: expected a 2-D tf.Tensor [rows, d], received ${value instanceof t.Tensor ? `shape [${value.shape.join(', ')}]` : typeof value}`)
  }
  return value
}

/** A 2-D tensor's values as a Matrix (read synchronously). */
function matrixOf(e: tfTypes.Tensor): Matrix {
  const [rows, cols] = e.shape as [number, number]
  const data = e.dataSync()
  return { data: data instanceof Float32Array ? data : Float32Array.from(data), rows, cols }
}

/**
 * A scalar loss of `inputs` whose value and gradients tripletkit computes: `compute` gets the
 * inputs' values and returns the loss and one gradient per input (null: none, as for labels).
 */
function tripletkitLoss(t: Tf, inputs: tfTypes.Tensor[], compute: (values: tfTypes.Tensor[]) => { loss: number; grads: (Matrix | null)[] }): tfTypes.Scalar {
  const f = t.customGrad(((...args: tfTypes.Tensor[]) => {
    const values = args.slice(0, inputs.length)
    const { loss, grads } = compute(values)
    return {
      value: t.scalar(loss),
      gradFunc: (dy: tfTypes.Tensor) => grads.map((g, i) => (g === null ? t.zerosLike(values[i]) : t.mul(t.tensor2d(g.data, [g.rows, g.cols]), dy))),
    }
  }) as unknown as Parameters<Tf['customGrad']>[0])
  return f(...inputs) as tfTypes.Scalar
}

/**
 * `labels` checked against `rows`: shape `[rows]`, `[rows, 1]`, or `[rows, d]` (model.fit's
 * targets, which must have the output's shape: then the first column), and a reader of them.
 */
function labelsOf(t: Tf, labels: unknown, rows: number): { tensor: tfTypes.Tensor; read: (y: tfTypes.Tensor) => Int32Array } {
  const fitted = labels instanceof t.Tensor && labels.rank === 2 && labels.shape[0] === rows && labels.shape[1] !== 1
  if (!(labels instanceof t.Tensor) || (labels.size !== rows && !fitted)) {
    throw new RangeError(`labels: expected a tf.Tensor of ${rows} labels (one per row of embeddings), received ` +
      (labels instanceof t.Tensor ? `shape [${labels.shape.join(', ')}]` : typeof labels))
  }
  return {
    tensor: labels,
    read: (y) => {
      const all = y.dataSync()
      const stride = fitted ? all.length / rows : 1
      return Int32Array.from({ length: rows }, (_, i) => {
        const v = all[i * stride]
        if (!Number.isInteger(v)) throw new RangeError(`labels[${i}]: expected an integer class id, received ${v}`)
        return v
      })
    },
  }
}

/**
 * A loss of a labelled batch, `(labels, embeddings)` in Keras' order, as a scalar tensor whose
 * gradient with respect to the embeddings is tripletkit's; options read against `keys`.
 */
function labelledLoss<O extends object>(labels: tfTypes.Tensor, embeddings: tfTypes.Tensor, options: O | undefined,
  keys: Keys<O>, run: (x: Matrix, labels: Int32Array, opts: Partial<O>) => { loss: number; grad: Matrix }): tfTypes.Scalar {
  const t = tf()
  const opts = readOptions(options, keys, 'options')
  const e = checked2d(t, embeddings, 'embeddings')
  const y = labelsOf(t, labels, e.shape[0])
  return tripletkitLoss(t, [y.tensor, e], ([yv, ev]) => {
    const r = run(matrixOf(ev), y.read(yv), opts)
    return { loss: r.loss, grads: [null, r.grad] }
  })
}

/**
 * The triplet loss of a batch, as a scalar `tf.Tensor` whose gradient with respect to
 * `embeddings` is tripletkit's. Arguments in Keras' `(yTrue, yPred)` order, so it serves as a
 * model's loss: `labels` holds one integer class id per row (shape `[rows]` or `[rows, 1]`),
 * `embeddings` is `[rows, d]`. As `model.fit` wants targets of the output's shape, labels of
 * shape `[rows, d]` are read from their first column (`tf.tile(labels, [1, d])` makes them).
 * The options are those of `tripletLoss` (mining, margin, metric, normalize, softMargin, swap,
 * reduction, sample, device, …); labels get no gradient.
 *
 * @throws TypeError / RangeError for bad input, as tripletLoss does.
 * @example
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: (yTrue, yPred) => tfTripletLoss(yTrue, yPred, { mining: 'batch-hard' }) })
 */
export function tfTripletLoss(labels: tfTypes.Tensor, embeddings: tfTypes.Tensor, options?: TfTripletLossOptions): tfTypes.Scalar {
  return labelledLoss(labels, embeddings, options, without(OPTION_KEYS.loss, 'signal'), tripletLossSync)
}

/**
 * The supervised contrastive loss of a labelled batch (as `supConLoss`), as a scalar
 * `tf.Tensor` with tripletkit's gradient; arguments and labels as {@link tfTripletLoss} takes
 * them.
 *
 * @example
 * const loss = tfSupConLoss(labels, model.apply(x) as tf.Tensor, { temperature: 0.1 })
 */
export function tfSupConLoss(labels: tfTypes.Tensor, embeddings: tfTypes.Tensor, options?: TfSupConLossOptions): tfTypes.Scalar {
  return labelledLoss(labels, embeddings, options, without(OPTION_KEYS.supCon, 'signal'), supConLossSync)
}

/**
 * The contrastive loss of a labelled batch (as `contrastiveLoss`), as a scalar `tf.Tensor` with
 * tripletkit's gradient; arguments and labels as {@link tfTripletLoss} takes them.
 *
 * @example
 * const loss = tfContrastiveLoss(labels, model.apply(x) as tf.Tensor, { posMargin: 0, negMargin: 1 })
 */
export function tfContrastiveLoss(labels: tfTypes.Tensor, embeddings: tfTypes.Tensor, options?: TfContrastiveLossOptions): tfTypes.Scalar {
  return labelledLoss(labels, embeddings, options, without(OPTION_KEYS.contrastive, 'signal'), contrastiveLossSync)
}

/**
 * The triplet margin loss of explicit (anchor, positive, negative) rows (as
 * `tripletMarginLoss`), as a scalar `tf.Tensor` with tripletkit's gradients for all three.
 *
 * @example
 * const loss = tfTripletMarginLoss(net.apply(a) as tf.Tensor, net.apply(p) as tf.Tensor, net.apply(n) as tf.Tensor, { margin: 1 })
 */
export function tfTripletMarginLoss(anchor: tfTypes.Tensor, positive: tfTypes.Tensor, negative: tfTypes.Tensor,
  options?: TfTripletMarginLossOptions): tfTypes.Scalar {
  const t = tf()
  const opts = readOptions(options, without(OPTION_KEYS.marginLoss, 'signal'), 'options')
  const inputs = [checked2d(t, anchor, 'anchor'), checked2d(t, positive, 'positive'), checked2d(t, negative, 'negative')]
  return tripletkitLoss(t, inputs, ([a, p, n]) => {
    const r = tripletMarginLossSync(matrixOf(a), matrixOf(p), matrixOf(n), opts)
    return { loss: r.loss, grads: [r.grad.anchor, r.grad.positive, r.grad.negative] }
  })
}

/**
 * The multiple negatives ranking loss (InfoNCE over in-batch negatives, as
 * `multipleNegativesRankingLoss`) of paired rows, and optionally extra hard `negatives`, as a
 * scalar `tf.Tensor` with tripletkit's gradients for every input.
 *
 * @example
 * const loss = tfMultipleNegativesRankingLoss(encoder.apply(questions) as tf.Tensor, encoder.apply(answers) as tf.Tensor, undefined, { scale: 20 })
 */
export function tfMultipleNegativesRankingLoss(anchors: tfTypes.Tensor, positives: tfTypes.Tensor, negatives?: tfTypes.Tensor,
  options?: TfMultipleNegativesRankingLossOptions): tfTypes.Scalar {
  const t = tf()
  const opts = readOptions(options, without(OPTION_KEYS.ranking, 'signal', 'negatives'), 'options')
  const inputs = [checked2d(t, anchors, 'anchors'), checked2d(t, positives, 'positives')]
  if (negatives !== undefined) inputs.push(checked2d(t, negatives, 'negatives'))
  return tripletkitLoss(t, inputs, ([a, p, n]) => {
    const r = multipleNegativesRankingLossSync(matrixOf(a), matrixOf(p), { ...opts, ...(n === undefined ? {} : { negatives: matrixOf(n) }) })
    return { loss: r.loss, grads: n === undefined ? [r.grad.anchors, r.grad.positives] : [r.grad.anchors, r.grad.positives, r.grad.negatives!] }
  })
}

/**
 * The Ladder loss (as `ladderLoss`) of queries against candidates with graded `relevance`
 * (`[queries, candidates]`, no gradient), as a scalar `tf.Tensor` with tripletkit's gradients
 * for the queries and the candidates.
 *
 * @example
 * const loss = tfLadderLoss(q, c, relevance, { thresholds: [2, 1], margins: [0.2, 0.1] })
 */
export function tfLadderLoss(queries: tfTypes.Tensor, candidates: tfTypes.Tensor, relevance: tfTypes.Tensor,
  options: TfLadderLossOptions): tfTypes.Scalar {
  const t = tf()
  const opts = readOptions(options, without(OPTION_KEYS.ladder, 'signal'), 'options', true) as TfLadderLossOptions
  const inputs = [checked2d(t, queries, 'queries'), checked2d(t, candidates, 'candidates'), checked2d(t, relevance, 'relevance')]
  return tripletkitLoss(t, inputs, ([q, c, r]) => {
    const out = ladderLossSync(matrixOf(q), matrixOf(c), matrixOf(r), opts)
    return { loss: out.loss, grads: [out.grad.queries, out.grad.candidates, null] }
  })
}
