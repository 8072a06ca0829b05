/**
 * tripletkit demo: a small TensorFlow.js network learns a 16-dimensional embedding of handwritten
 * digits with tripletkit's triplet loss, and a picture shows what it learned.
 *
 * The data: 1,797 digits, 8×8 images of grey levels 0..16 (UCI "Optical Recognition of Handwritten
 * Digits", see examples/data/README.md), split 70/30 by digit. The model: 64 → 64 (ReLU) → 16.
 * Each step takes 10 digits × 8 images, and `tfTripletLoss` (tripletkit/tfjs) mines the batch
 * (batch-hard for the first epochs, then batch-semihard) and gives TensorFlow.js the gradient.
 * Retrieval on the held-out images (each searched against the others) is measured before and
 * after, and their embeddings, projected to 2-D, are drawn before and after in an SVG.
 *
 * Run: npm run demo   (writes demo-embeddings.svg; the picture in the README is one such run)
 */
import * as tf from '@tensorflow/tfjs'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { backends, retrievalMetricsSync, type Strategy } from '../index'
import { tfTripletLoss } from '../src/tfjs'
import { progress } from '../src/cli/progress'

const EPOCHS = 12
const HARD_EPOCHS = 5 // batch-hard first, then batch-semihard
const CLASSES_PER_BATCH = 10 // P
const PER_CLASS = 8 // K
const METRIC = { metric: 'euclidean', normalize: true } as const // distances between unit vectors
const OUT = process.argv[2] ?? 'demo-embeddings.svg'

// --- a seeded random number generator (mulberry32), so that every run is the same ---
let seed = 2024
function random(): number {
  let t = (seed = (seed + 0x6d2b79f5) >>> 0)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

// --- the data: 64 pixels scaled to [0, 1], then the label ---
const lines = gunzipSync(readFileSync(path.join(__dirname, 'data', 'digits.csv.gz'))).toString('utf8').trim().split('\n')
const pixels = lines.map((line) => line.split(',').slice(0, 64).map((v) => Number(v) / 16))
const digit = lines.map((line) => Number(line.split(',')[64]))
const train: number[] = []
const test: number[] = []
for (let d = 0; d <= 9; d++) {
  const rows = shuffle(digit.flatMap((label, i) => (label === d ? [i] : [])))
  const cut = Math.round(rows.length * 0.7)
  train.push(...rows.slice(0, cut))
  test.push(...rows.slice(cut))
}
const testX = tf.tensor2d(test.map((i) => pixels[i]))
const testY = test.map((i) => digit[i])

// --- the model ---
tf.setBackend('cpu')
const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [64], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.dense({ units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ],
})
const embed = (): tf.Tensor2D => tf.tidy(() => model.predict(testX) as tf.Tensor2D)
function evaluate(e: tf.Tensor2D): { precisionAt1: number; mapAtR: number } {
  const r = retrievalMetricsSync({ data: e.dataSync() as Float32Array, rows: e.shape[0], cols: e.shape[1] }, testY, METRIC)
  return { precisionAt1: r.precisionAt1, mapAtR: r.mapAtR }
}

const beforeEmbedding = embed()
const before = evaluate(beforeEmbedding)
const device = backends().cpu.available ? 'native cpu' : 'js reference'
console.log(`tripletkit demo: ${lines.length} digits (${train.length} train, ${test.length} held out), a 64 → 64 → 16 tfjs network, loss on: ${device}`)
console.log(`untrained network: precision@1 ${before.precisionAt1.toFixed(3)}, MAP@R ${before.mapAtR.toFixed(3)}\n`)

// --- training: Adam, one P × K batch per step, the loss and its gradient from tripletkit ---
const optimizer = tf.train.adam(0.005)
const byDigit = Array.from({ length: 10 }, (_, d) => train.filter((i) => digit[i] === d))
const steps = Math.ceil(train.length / (CLASSES_PER_BATCH * PER_CLASS))
const started = Date.now()
const bar = progress('training', false)
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const mining: Strategy = epoch <= HARD_EPOCHS ? 'batch-hard' : 'batch-semihard'
  let lossSum = 0
  for (let step = 0; step < steps; step++) {
    const classes = shuffle([...byDigit.keys()]).slice(0, CLASSES_PER_BATCH)
    const rows = classes.flatMap((d) => shuffle(byDigit[d].slice()).slice(0, PER_CLASS))
    const x = tf.tensor2d(rows.map((i) => pixels[i]))
    const y = tf.tensor1d(rows.map((i) => digit[i]), 'int32')
    const loss = optimizer.minimize(() => tfTripletLoss(y, model.apply(x) as tf.Tensor, { mining, margin: 0.2, ...METRIC }), true)!
    lossSum += loss.dataSync()[0]
    tf.dispose([x, y, loss])
    bar.update((epoch - 1) * steps + step + 1, EPOCHS * steps)
  }
  const e = embed()
  const mapAtR = evaluate(e).mapAtR
  e.dispose()
  if (!process.stderr.isTTY) console.log(`epoch ${String(epoch).padStart(2)}  ${mining.padEnd(14)}  loss ${(lossSum / steps).toFixed(4)}  held-out MAP@R ${mapAtR.toFixed(3)}`)
}
bar.stop()

const afterEmbedding = embed()
const after = evaluate(afterEmbedding)
console.log(`\ntrained in ${((Date.now() - started) / 1000).toFixed(1)} s; retrieval on the ${test.length} held-out digits:\n`)
console.log('                     precision@1   MAP@R')
console.log(`untrained network        ${before.precisionAt1.toFixed(3)}       ${before.mapAtR.toFixed(3)}`)
console.log(`trained (triplet loss)   ${after.precisionAt1.toFixed(3)}       ${after.mapAtR.toFixed(3)}`)

// --- the picture: each held-out embedding (unit length) projected on its two principal axes ---
function project(e: tf.Tensor2D): number[][] {
  return tf.tidy(() => {
    const unit = tf.div(e, tf.norm(e, 2, 1, true))
    const centred = tf.sub(unit, tf.mean(unit, 0))
    const cov = tf.matMul(centred, centred, true, false)
    // Two leading eigenvectors by power iteration with deflation.
    const axes: tf.Tensor[] = []
    let m = cov
    for (let a = 0; a < 2; a++) {
      let v: tf.Tensor = tf.ones([cov.shape[0], 1])
      for (let it = 0; it < 100; it++) v = tf.div(tf.matMul(m, v), tf.norm(tf.matMul(m, v)))
      axes.push(v)
      const lambda = tf.matMul(tf.matMul(v, m, true, false), v)
      m = tf.sub(m, tf.mul(lambda, tf.matMul(v, v, false, true)))
    }
    return tf.matMul(centred, tf.concat(axes, 1)).arraySync() as number[][]
  })
}

async function picture(): Promise<void> {
  const vega = await import('vega')
  // vega-lite's types need a newer module resolution than this project's: its one call, typed here.
  const vl = (await import('vega-lite' as string)) as { compile(spec: object): { spec: Parameters<typeof vega.parse>[0] } }
  const points = (e: tf.Tensor2D, stage: string): object[] => project(e).map(([x, y], i) => ({ x, y, digit: String(testY[i]), stage }))
  const scatter = (stage: string, title: string): object => ({
    title,
    transform: [{ filter: `datum.stage === '${stage}'` }],
    mark: { type: 'circle', size: 18, opacity: 0.75 },
    encoding: {
      x: { field: 'x', type: 'quantitative', axis: null },
      y: { field: 'y', type: 'quantitative', axis: null },
      color: { field: 'digit', type: 'nominal', scale: { scheme: 'category10' }, legend: { title: 'digit' } },
    },
    width: 300,
    height: 300,
  })
  const spec = vl.compile({
    data: { values: [...points(beforeEmbedding, 'before'), ...points(afterEmbedding, 'after')] },
    hconcat: [
      scatter('before', `untrained: MAP@R ${before.mapAtR.toFixed(2)}`),
      scatter('after', `after triplet loss: MAP@R ${after.mapAtR.toFixed(2)}`),
    ],
    config: { view: { stroke: '#ddd' }, font: 'sans-serif' },
  }).spec
  const svg = await new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG()
  writeFileSync(OUT, svg)
  console.log(`\nheld-out embeddings before and after, projected to 2-D: ${OUT}`)
}

picture().then(() => {
  if (!(after.mapAtR > before.mapAtR + 0.1)) {
    console.error('the trained embedding should clearly beat the untrained network')
    process.exitCode = 1
  }
}, (err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
