// tripletkit/tfjs: the loss value and gradient are tripletLoss's, and a small tfjs network
// trained on the digits with it, through a custom loop and through model.fit, gets better.
import test from 'ava'
import * as tf from '@tensorflow/tfjs'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { contrastiveLossSync, ladderLossSync, multipleNegativesRankingLossSync, supConLossSync, tripletLossSync, tripletMarginLossSync, type Matrix } from '../index'
import { tfContrastiveLoss, tfLadderLoss, tfMultipleNegativesRankingLoss, tfSupConLoss, tfTripletLoss, tfTripletMarginLoss } from '../src/tfjs'
import { assertAllClose } from './helpers/compare'

const lines = gunzipSync(readFileSync(join(__dirname, '..', 'examples', 'data', 'digits.csv.gz'))).toString('utf8').trim().split('\n')
const pixels = lines.map((l) => l.split(',').slice(0, 64).map((v) => Number(v) / 16))
const digits = lines.map((l) => Number(l.split(',')[64]))

/** Rows of a batch: `perClass` of each digit, starting at `step`'s offset within each class. */
function batch(step: number, perClass = 8): number[] {
  const rows: number[] = []
  for (let d = 0; d <= 9; d++) {
    const ofDigit = digits.flatMap((y, i) => (y === d ? [i] : []))
    for (let k = 0; k < perClass; k++) rows.push(ofDigit[(step * perClass + k) % ofDigit.length])
  }
  return rows
}

test('the value and the gradient are tripletLoss\'s', (t) => {
  const rows = batch(0, 3)
  const x = tf.tensor2d(rows.map((i) => pixels[i].slice(0, 5)))
  const y = tf.tensor1d(rows.map((i) => digits[i]))
  for (const opts of [{ mining: 'batch-hard' as const }, { mining: 'all' as const, metric: 'cosine' as const, softMargin: true },
    { mining: 'violating' as const, sample: { count: 25, seed: 4 } }]) {
    const { value, grad } = tf.valueAndGrad((e: tf.Tensor) => tfTripletLoss(y, e, opts))(x)
    const want = tripletLossSync({ data: x.dataSync() as Float32Array, rows: rows.length, cols: 5 }, rows.map((i) => digits[i]), opts)
    t.true(Math.abs(value.dataSync()[0] - want.loss) < 1e-6)
    assertAllClose(t, grad.dataSync(), want.grad.data, { rel: 1e-6, abs: 1e-7 }, 'gradient')
  }
})

test('a dense network trained with it in a custom loop: the loss falls within 40 Adam steps', (t) => {
  tf.setBackend('cpu')
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), tf.layers.dense({ units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] })
  const optimizer = tf.train.adam(0.01)
  const losses: number[] = []
  for (let step = 0; step < 40; step++) {
    const rows = batch(step)
    const x = tf.tensor2d(rows.map((i) => pixels[i]))
    const y = tf.tensor1d(rows.map((i) => digits[i]), 'int32')
    const loss = optimizer.minimize(() => tfTripletLoss(y, model.apply(x) as tf.Tensor, { mining: 'batch-hard', margin: 0.5 }), true)!
    losses.push(loss.dataSync()[0])
    tf.dispose([x, y, loss])
  }
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length
  t.log(`loss ${mean(losses.slice(0, 5)).toFixed(3)} → ${mean(losses.slice(-5)).toFixed(3)}`)
  t.true(mean(losses.slice(-5)) < 0.6 * mean(losses.slice(0, 5)))
})

test('it serves as a Keras-style loss in model.fit, labels repeated to the output\'s shape', async (t) => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] })
  model.compile({ optimizer: tf.train.adam(0.01), loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tfTripletLoss(yTrue, yPred, { mining: 'batch-semihard' }) })
  const rows = Array.from({ length: 10 }, (_, s) => batch(s)).flat()
  const history = await model.fit(tf.tensor2d(rows.map((i) => pixels[i])), tf.tensor2d(rows.map((i) => Array(16).fill(digits[i]))), { batchSize: 80, epochs: 6, shuffle: false, verbose: 0 })
  const loss = history.history.loss as number[]
  t.log(`epoch loss ${loss.map((v) => v.toFixed(3)).join(' → ')}`)
  t.true(loss[loss.length - 1] < loss[0])
})

test('bad labels, shapes and options are TypeErrors or RangeErrors', (t) => {
  const e = tf.zeros([4, 2])
  t.throws(() => tfTripletLoss(tf.tensor1d([0, 1, 0]), e), { instanceOf: RangeError, message: /^labels: expected a tf\.Tensor of 4 labels/ })
  t.throws(() => tfTripletLoss(tf.tensor1d([0, 1, 0, 1]), tf.zeros([4])), { instanceOf: TypeError, message: /^embeddings: expected a 2-D tf\.Tensor/ })
  t.throws(() => tfTripletLoss(tf.tensor1d([0, 1.5, 0, 1]), e), { instanceOf: RangeError, message: /^labels\[1\]: expected an integer class id/ })
  t.throws(() => tfTripletLoss(tf.tensor1d([0, 1, 0, 1]), e, { margn: 1 } as never), { instanceOf: TypeError, message: /did you mean 'margin'/ })
  t.throws(() => tfTripletLoss(tf.tensor1d([0, 1, 0, 1]), tf.tensor2d([[NaN, 0], [0, 0], [0, 0], [0, 0]])), { instanceOf: RangeError, message: /finite/ })
})

/** Seeded small-integer rows as a tensor and as a Matrix. */
function rowsOf(rows: number, cols: number, seed: number): [tf.Tensor2D, Matrix] {
  let s = seed
  const data = Float32Array.from({ length: rows * cols }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 7) - 3)
  return [tf.tensor2d(data, [rows, cols]), { data, rows, cols }]
}

test('the losses of the extensions: values and gradients are the library\'s', (t) => {
  const [a, am] = rowsOf(5, 3, 1)
  const [p, pm] = rowsOf(5, 3, 2)
  const [n, nm] = rowsOf(5, 3, 3)
  const [c, cm] = rowsOf(4, 3, 4)
  const labels = [0, 1, 0, 1, 2]
  const tol = { rel: 1e-6, abs: 1e-7 }
  const check = (what: string, f: (...x: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[], want: { loss: number }, grads: Matrix[]): void => {
    const { value, grads: got } = tf.valueAndGrads(f)(xs)
    t.true(Math.abs(value.dataSync()[0] - want.loss) < 1e-6, what)
    grads.forEach((g, i) => assertAllClose(t, got[i].dataSync(), g.data, tol, `${what}: gradient ${i}`))
  }
  const contrastive = contrastiveLossSync(am, labels, { posMargin: 0.5, negMargin: 4 })
  check('contrastive', (e) => tfContrastiveLoss(tf.tensor1d(labels), e, { posMargin: 0.5, negMargin: 4 }), [a], contrastive, [contrastive.grad])
  const supCon = supConLossSync(am, labels, { temperature: 0.5 })
  t.true(supCon.anchors > 0)
  check('supervised contrastive', (e) => tfSupConLoss(tf.tensor1d(labels), e, { temperature: 0.5 }), [a], supCon, [supCon.grad])
  const margin = tripletMarginLossSync(am, pm, nm, { margin: 1, swap: true })
  check('triplet margin', (x, y, z) => tfTripletMarginLoss(x, y, z, { margin: 1, swap: true }), [a, p, n], margin, [margin.grad.anchor, margin.grad.positive, margin.grad.negative])
  const mnrl = multipleNegativesRankingLossSync(am, pm, { negatives: cm, scale: 0.5, similarity: 'dot' })
  check('multiple negatives ranking', (x, y, z) => tfMultipleNegativesRankingLoss(x, y, z, { scale: 0.5, similarity: 'dot' }), [a, p, c], mnrl,
    [mnrl.grad.anchors, mnrl.grad.positives, mnrl.grad.negatives!])
  const relevance = { data: Float32Array.from({ length: 20 }, (_, i) => i % 3), rows: 5, cols: 4 }
  const ladder = ladderLossSync(am, cm, relevance, { thresholds: [2, 1], margins: [0.5, 0.25], similarity: 'dot' })
  check('ladder', (x, y) => tfLadderLoss(x, y, tf.tensor2d(relevance.data, [5, 4]), { thresholds: [2, 1], margins: [0.5, 0.25], similarity: 'dot' }), [a, c], ladder,
    [ladder.grad.queries, ladder.grad.candidates])
})
