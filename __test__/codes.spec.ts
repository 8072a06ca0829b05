// Both devices refuse the same backend calls the same way: the core's rules (Rust) and the
// reference's (TypeScript) throw the same `code` and the same message. These calls go to the
// backends directly, past the public functions, whose own checks would catch them first.
import test from 'ava'
import type { Backend } from '../src/backend'
import { loadNative } from '../src/native'
import { reference } from '../src/reference'

const load = loadNative()
if (!load.ok) throw load.error
const native: Backend = load.binding

const x = new Float32Array([0, 1, 3, 6])
const labels = new Int32Array([0, 0, 1, 1])
const triplets = (a: number, p: number, n: number) => ({ anchor: Int32Array.of(a), positive: Int32Array.of(p), negative: Int32Array.of(n) })

const cases: Record<string, [code: string, call: (b: Backend) => unknown]> = {
  'given triplet with anchor = positive': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 0, 2))],
  'given triplet whose positive has another label': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 2, 3))],
  'given triplet whose negative has the same label': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 1, 1))],
  'given triplet index out of range': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 1, 4))],
  'labels shorter than the rows': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.mineTriplets(x, 4, 1, labels.subarray(0, 3), { strategy: 'all' })],
  'a NaN margin': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.mineTriplets(x, 4, 1, labels, { strategy: 'all', margin: NaN })],
  'knn k = 0': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => new b.KnnIndex(x, 4, 1).search(x, 4, { k: 0 })],
  'knn k past the corpus with excludeSelf': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.knn(x, 4, x, 4, 1, {}, { k: 4, excludeSelf: true })],
  'retrieval k = 0': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.retrievalMetrics(x, 4, labels, null, 0, null, 1, { k: 0 })],
  'contrastive labels shorter than the rows': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.contrastiveLoss(x, 4, 1, labels.subarray(0, 2))],
  'a NaN contrastive margin': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.contrastiveLoss(x, 4, 1, labels, { posMargin: NaN })],
  'an infinite ranking scale': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.multipleNegativesRankingLoss(x, x, 4, null, 0, 1, { scale: Infinity })],
  'verification with one class only': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.verificationMetrics(x, x, 4, 1, Uint8Array.of(1, 1, 1, 1))],
  'verification far past 1': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.verificationMetrics(x, x, 4, 1, Uint8Array.of(1, 0, 1, 0), { far: 1.5 })],
  'ladder thresholds not decreasing': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.ladderLoss(x, x, new Float32Array(16), 4, 4, 1, { thresholds: [0.2, 0.5], margins: [0.1, 0.1] })],
  'ladder margins not one per threshold': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.ladderLoss(x, x, new Float32Array(16), 4, 4, 1, { thresholds: [0.5], margins: [0.1, 0.1] })],
  'memory labels shorter than its rows': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.mineTriplets(x, 4, 1, labels, { strategy: 'all' }, x, 4, labels.subarray(0, 2))],
  'a given triplet past the memory': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 4, 2), x, 4, labels)],
  'given triplets with memory labels longer than its rows': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.tripletLoss(x, 4, 1, labels, {}, triplets(0, 3, 1), x.subarray(0, 2), 2, labels)],
  'an OASIS step size of 0': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.oasisSteps(x, 4, 1, labels, Float64Array.of(1), { c: 0, steps: 1, state: 0 })],
  'OASIS weights of the wrong size': ['ERR_TRIPLETKIT_INVALID_ARGUMENT', (b) => b.oasisSteps(x, 4, 1, labels, Float64Array.of(1, 0), { c: 0.1, steps: 1, state: 0 })],
  'more triplets than maxTriplets': ['ERR_TRIPLETKIT_TOO_MANY_TRIPLETS', (b) => b.mineTriplets(x, 4, 1, labels, { strategy: 'all', maxTriplets: 7 })],
}

function thrown(f: () => unknown): { code?: string; message?: string } {
  try {
    f()
  } catch (e) {
    return e as { code?: string; message?: string }
  }
  return {}
}

for (const [what, [code, call]] of Object.entries(cases)) {
  test(`${what}: cpu and js throw ${code} with the same message`, (t) => {
    const cpu = thrown(() => call(native))
    const js = thrown(() => call(reference))
    t.is(cpu.code, code, `cpu: ${cpu.message}`)
    t.is(js.code, code, `js: ${js.message}`)
    t.is(js.message, cpu.message)
  })
}
