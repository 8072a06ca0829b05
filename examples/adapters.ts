/**
 * tripletkit example: better retrieval from embeddings you cannot retrain.
 *
 * The "embeddings" here are raw pixels of handwritten digits (8×8 images, 64 numbers each;
 * see examples/data/README.md), standing in for vectors from a hosted embedding API. Two ways
 * to adapt them with a few labels, without touching the model that made them:
 *
 *   fitLinearAdapter  a linear map W (64 → 32) trained with the triplet loss and online mining;
 *                     use adapter.transform(x) wherever the raw embeddings were used.
 *   fitOasis          a bilinear similarity s(x, y) = xᵀ W y (OASIS); rank with
 *                     knn / retrievalMetrics under metric 'dot' on oasis.transform(queries).
 *
 * Retrieval on held-out digits (each searched against the others) is compared with the raw
 * embeddings. Run: npm run example:adapters
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { fitLinearAdapter, fitOasis, retrievalMetrics, type Matrix, matrix } from '../index'

const lines = gunzipSync(readFileSync(path.join(__dirname, 'data', 'digits.csv.gz'))).toString('utf8').trim().split('\n')
const rows = lines.map((line) => line.split(',').map(Number))
// Every third image is held out; pixels scaled to [0, 1].
const split = (keep: (i: number) => boolean) => {
  const picked = rows.filter((_, i) => keep(i))
  return { x: matrix(picked.map((r) => r.slice(0, 64).map((v) => v / 16))), y: picked.map((r) => r[64]) }
}
const train = split((i) => i % 3 !== 0)
const test = split((i) => i % 3 === 0)

async function mapAtR(queries: Matrix, metric: 'euclidean' | 'dot', reference?: Matrix) {
  const ref = reference === undefined ? {} : { reference, referenceLabels: test.y }
  return (await retrievalMetrics(queries, test.y, { metric, ...ref })).mapAtR
}

async function main(): Promise<void> {
  console.log(`tripletkit adapters: ${train.y.length} training digits, ${test.y.length} held out, 64 raw dimensions\n`)
  const started = Date.now()
  const adapter = await fitLinearAdapter(train.x, train.y, { dim: 32, epochs: 15, learningRate: 0.02, seed: 1 })
  const oasis = await fitOasis(train.x, train.y, { seed: 1 })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)

  const raw = await mapAtR(test.x, 'euclidean')
  const rawDot = await mapAtR(test.x, 'dot')
  const adapted = await mapAtR(adapter.transform(test.x), 'euclidean')
  // OASIS ranks by s(q, c) = qᵀWc: transformed queries against the raw corpus. The query itself
  // is then a candidate too, so the raw dot product is measured the same way for comparison.
  const learned = await mapAtR(oasis.transform(test.x), 'dot', test.x)
  const rawSelf = await mapAtR(test.x, 'dot', test.x)

  console.log(`fitted in ${seconds} s; MAP@R on the held-out digits:\n`)
  console.log(`raw pixels, euclidean                     ${raw.toFixed(3)}   (dot product: ${rawDot.toFixed(3)})`)
  console.log(`fitLinearAdapter (64 → 32), euclidean     ${adapted.toFixed(3)}`)
  console.log(`raw pixels, dot, query among candidates    ${rawSelf.toFixed(3)}`)
  console.log(`fitOasis, s(x, y) = xᵀWy, same protocol    ${learned.toFixed(3)}`)
  if (!(adapted > raw + 0.05 && learned > rawSelf + 0.05)) {
    console.error('each adapter should clearly beat the raw embeddings')
    process.exit(1)
  }
}

void main()
