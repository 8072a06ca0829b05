/**
 * tripletkit demo: learn a 16-dimensional embedding of handwritten digits with the triplet loss.
 *
 * The data: 1,797 digits, 8×8 images of grey levels 0..16 (UCI "Optical Recognition of Handwritten
 * Digits", see examples/data/README.md). The model: one matrix W (64 → 16), so the embedding of
 * an image x is E = x·W. It starts as a random projection; training moves same-digit images
 * together and different digits apart:
 *
 *   each step:  a batch of 10 digits × 8 images,  E = X_batch · W
 *               { loss, grad } = tripletLossSync(E, labels, { mining })   ← grad = ∂loss/∂E
 *               ∂loss/∂W = X_batchᵀ · grad,  then one Adam step on W
 *
 * mining is 'batch-hard' for the first epochs, then 'batch-semihard'. Retrieval on the held-out
 * images (each one searched against the others) is measured before and after.
 *
 * Run: npm run demo
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { backends, matrix, retrievalMetricsSync, tripletLossSync, type Matrix, type Strategy } from '../index'

const DIM_IN = 64
const DIM_OUT = 16
const CLASSES_PER_BATCH = 10 // P
const PER_CLASS = 8 // K
const EPOCHS = 20
const HARD_EPOCHS = 8 // batch-hard first, then batch-semihard
const LEARNING_RATE = 0.02
const METRIC = { metric: 'euclidean', normalize: true } as const // distances between unit vectors
const MARGIN = 0.2

// --- a seeded random number generator (mulberry32), so that every run is the same ---
let seed = 2024
function random(): number {
  let t = (seed = (seed + 0x6d2b79f5) >>> 0)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
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
const pixels = lines.map((line) => line.split(',').slice(0, DIM_IN).map((v) => Number(v) / 16))
const digit = lines.map((line) => Number(line.split(',')[DIM_IN]))

// A stratified 70/30 split: 70% of each digit for training, the rest held out.
const train: number[] = []
const test: number[] = []
for (let d = 0; d <= 9; d++) {
  const rows = shuffle(digit.flatMap((label, i) => (label === d ? [i] : [])))
  const cut = Math.round(rows.length * 0.7)
  train.push(...rows.slice(0, cut))
  test.push(...rows.slice(cut))
}
const testX = matrix(test.map((i) => pixels[i]))
const testY = test.map((i) => digit[i])

// --- the model: E = X·W, with W a 64 × 16 row-major Float32Array ---
function embed(x: Matrix, w: Float32Array): Matrix {
  const out = new Float32Array(x.rows * DIM_OUT)
  for (let i = 0; i < x.rows; i++)
    for (let k = 0; k < DIM_IN; k++) {
      const v = x.data[i * DIM_IN + k]
      if (v === 0) continue
      for (let j = 0; j < DIM_OUT; j++) out[i * DIM_OUT + j] += v * w[k * DIM_OUT + j]
    }
  return matrix(out, x.rows, DIM_OUT)
}

/** ∂loss/∂W = Xᵀ · ∂loss/∂E */
function backprop(x: Matrix, gradE: Matrix): Float32Array {
  const g = new Float32Array(DIM_IN * DIM_OUT)
  for (let i = 0; i < x.rows; i++)
    for (let k = 0; k < DIM_IN; k++) {
      const v = x.data[i * DIM_IN + k]
      if (v === 0) continue
      for (let j = 0; j < DIM_OUT; j++) g[k * DIM_OUT + j] += v * gradE.data[i * DIM_OUT + j]
    }
  return g
}

function evaluate(w: Float32Array) {
  const r = retrievalMetricsSync(embed(testX, w), testY, METRIC)
  return { precisionAt1: r.precisionAt1, mapAtR: r.mapAtR }
}

// A random Gaussian projection: the starting point, and the baseline to beat.
const W = Float32Array.from({ length: DIM_IN * DIM_OUT }, () => gaussian() / Math.sqrt(DIM_OUT))
const before = evaluate(W)
const device = backends().cpu.available ? 'native cpu' : 'js reference'
console.log(`tripletkit demo: ${lines.length} digits (${train.length} train, ${test.length} held out), ${DIM_IN} → ${DIM_OUT}, device: ${device}`)
console.log(`random projection: precision@1 ${before.precisionAt1.toFixed(3)}, MAP@R ${before.mapAtR.toFixed(3)}\n`)

// --- training: Adam on W, one P × K batch per step ---
const byDigit = Array.from({ length: 10 }, (_, d) => train.filter((i) => digit[i] === d))
const steps = Math.ceil(train.length / (CLASSES_PER_BATCH * PER_CLASS))
const m = new Float32Array(W.length) // Adam's first and second moments
const v = new Float32Array(W.length)
const [beta1, beta2] = [0.9, 0.999]
let t = 0
const started = Date.now()

for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const mining: Strategy = epoch <= HARD_EPOCHS ? 'batch-hard' : 'batch-semihard'
  let lossSum = 0
  let active = 0
  let triplets = 0
  for (let step = 0; step < steps; step++) {
    const classes = shuffle([...byDigit.keys()]).slice(0, CLASSES_PER_BATCH)
    const rows = classes.flatMap((d) => shuffle(byDigit[d].slice()).slice(0, PER_CLASS))
    const x = matrix(rows.map((i) => pixels[i]))
    const labels = rows.map((i) => digit[i])

    const { loss, grad, triplets: n, active: a } = tripletLossSync(embed(x, W), labels, { mining, margin: MARGIN, ...METRIC })
    const g = backprop(x, grad)

    t++
    for (let i = 0; i < W.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i]
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
      const mHat = m[i] / (1 - beta1 ** t)
      const vHat = v[i] / (1 - beta2 ** t)
      W[i] -= (LEARNING_RATE * mHat) / (Math.sqrt(vHat) + 1e-8)
    }
    lossSum += loss
    active += a
    triplets += n
  }
  console.log(
    `epoch ${String(epoch).padStart(2)}  ${mining.padEnd(14)}  loss ${(lossSum / steps).toFixed(4)}  ` +
      `active triplets ${((100 * active) / triplets).toFixed(0).padStart(3)}%  held-out MAP@R ${evaluate(W).mapAtR.toFixed(3)}`,
  )
}

const after = evaluate(W)
console.log(`\ntrained in ${((Date.now() - started) / 1000).toFixed(1)} s; retrieval on the ${test.length} held-out digits:\n`)
console.log('                     precision@1   MAP@R')
console.log(`random projection        ${before.precisionAt1.toFixed(3)}       ${before.mapAtR.toFixed(3)}`)
console.log(`trained (triplet loss)   ${after.precisionAt1.toFixed(3)}       ${after.mapAtR.toFixed(3)}`)

if (!(after.mapAtR > before.mapAtR + 0.1)) {
  console.error('the trained embedding should clearly beat the random projection')
  process.exit(1)
}
