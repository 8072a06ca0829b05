/**
 * tripletkit/tfjs: the triplet loss as a TensorFlow.js loss function whose gradient is
 * tripletkit's own (`tf.customGrad`), so any tfjs model trains with online batch-hard,
 * batch-semihard or set-strategy triplet mining. `@tensorflow/tfjs` (or `@tensorflow/tfjs-node`)
 * is an optional peer dependency: this entry point loads it, the rest of tripletkit does not.
 *
 * @module tripletkit/tfjs
 */

import type * as tfTypes from '@tensorflow/tfjs-core'
import { tripletLossSync } from './loss'
import { readOptions, OPTION_KEYS } from './options'
import type { TripletLossOptions } from './types'

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

/**
 * The triplet loss of a batch, as a scalar `tf.Tensor` whose gradient with respect to
 * `embeddings` is tripletkit's. Arguments in Keras' `(yTrue, yPred)` order, so it serves as a
 * model's loss: `labels` holds one integer class id per row (shape `[rows]` or `[rows, 1]`),
 * `embeddings` is `[rows, d]`. As `model.fit` wants targets of the output's shape, labels of
 * shape `[rows, d]` are read from their first column (`tf.tile(labels, [1, d])` makes them). The options are those of `tripletLoss` (mining, margin,
 * metric, normalize, softMargin, swap, reduction, device, …); labels get no gradient.
 *
 * @throws TypeError / RangeError for bad input, as tripletLoss does.
 * @example
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: (yTrue, yPred) => tfTripletLoss(yTrue, yPred, { mining: 'batch-hard' }) })
 */
export function tfTripletLoss(labels: tfTypes.Tensor, embeddings: tfTypes.Tensor, options?: TfTripletLossOptions): tfTypes.Scalar {
  const t = tf()
  const opts = readOptions(options, OPTION_KEYS.loss.filter((k) => k !== 'signal'), 'options')
  if (!(embeddings instanceof t.Tensor) || embeddings.rank !== 2) {
    throw new TypeError(`embeddings: expected a 2-D tf.Tensor [rows, d], received ${embeddings instanceof t.Tensor ? `shape [${embeddings.shape.join(', ')}]` : typeof embeddings}`)
  }
  const rows = embeddings.shape[0]
  // model.fit wants targets of the output's shape: then the labels are the first column.
  const fitted = labels instanceof t.Tensor && labels.rank === 2 && labels.shape[0] === rows && labels.shape[1] !== 1
  if (!(labels instanceof t.Tensor) || (labels.size !== rows && !fitted)) {
    throw new RangeError(`labels: expected a tf.Tensor of ${embeddings.shape[0]} labels (one per row of embeddings), received ` +
      (labels instanceof t.Tensor ? `shape [${labels.shape.join(', ')}]` : typeof labels))
  }
  const loss = t.customGrad(((y: tfTypes.Tensor, e: tfTypes.Tensor) => {
    const [rows, cols] = e.shape as [number, number]
    const all = y.dataSync()
    const stride = fitted ? all.length / rows : 1
    const ids = Int32Array.from({ length: rows }, (_, i) => {
      const v = all[i * stride]
      if (!Number.isInteger(v)) throw new RangeError(`labels[${i}]: expected an integer class id, received ${v}`)
      return v
    })
    const data = e.dataSync()
    const x = { data: data instanceof Float32Array ? data : Float32Array.from(data), rows, cols }
    const r = tripletLossSync(x, ids, opts)
    const grad = r.grad.data
    return {
      value: t.scalar(r.loss),
      gradFunc: (dy: tfTypes.Tensor) => [t.zerosLike(y), t.mul(t.tensor2d(grad, [rows, cols]), dy)],
    }
  }) as unknown as Parameters<Tf['customGrad']>[0])
  return loss(labels, embeddings) as tfTypes.Scalar
}
