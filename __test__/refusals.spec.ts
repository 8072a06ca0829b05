// One table of refused calls, run on every device: each call must be refused with the expected
// class, and with the same class, `code` and message on every device (js, cpu and, under
// `npm run test:cuda`, cuda), sync and async alike. The rules are core's; the reference mirrors
// them, and the TypeScript layer converts shapes only, so a rule written twice with different
// words shows up here as a disagreement.
import test from 'ava'
import * as tk from '../index'
import { DEVICES } from './helpers/devices'
import { OPS, type Fn, type Op } from './helpers/ops'


/** A refused call: its arguments before the options, its options (the device is added), and
 *  the class, code and words its refusal must have. */
interface Refusal {
  op: Op
  what: string
  args: unknown[]
  opts: Record<string, unknown>
  error: typeof TypeError | typeof RangeError | typeof Error
  code?: string
  message: RegExp
}

const X = [[0, 1], [1, 0], [2, 2], [3, 1]] // 4 × 2
const Y = [0, 0, 1, 1]
const X3 = [[0, 1, 2], [1, 0, 2]] // 2 × 3
const R = [[1, 0.5, 0], [0, 1, 0.5]] // relevance, 2 queries × 3 candidates
const INVALID = 'ERR_TRIPLETKIT_INVALID_ARGUMENT'
const trip = (a: number[], p: number[], n: number[]) =>
  ({ anchor: Int32Array.from(a), positive: Int32Array.from(p), negative: Int32Array.from(n), length: a.length })

const REFUSALS: Refusal[] = [
  // distances and search
  { op: 'pairwiseDistances', what: 'an unknown metric', args: [X, undefined], opts: { metric: 'manhattan' }, error: RangeError, message: /opts\.metric.*manhattan/ },
  { op: 'pairwiseDistances', what: 'b with other columns', args: [X, X3], opts: {}, error: RangeError, message: /\bb\b.*3/ },
  { op: 'knn', what: 'k past the corpus', args: [X, X], opts: { k: 5 }, error: RangeError, message: /opts\.k.*4.*5/ },
  { op: 'knn', what: 'k = corpus rows with excludeSelf', args: [X, X], opts: { k: 4, excludeSelf: true }, error: RangeError, message: /opts\.k.*3/ },
  { op: 'knn', what: 'k past the corpus, with no query', args: [{ data: new Float32Array(0), rows: 0, cols: 2 }, X], opts: { k: 5 }, error: RangeError, message: /^opts\.k: expected an integer from 1 to 4/ },
  { op: 'knn', what: 'a corpus of one row with excludeSelf', args: [X, [[0, 1]]], opts: { k: 1, excludeSelf: true }, error: RangeError, message: /^corpus: expected at least 2 rows/ },
  { op: 'knn', what: 'a string k', args: [X, X], opts: { k: '2' }, error: TypeError, message: /opts\.k/ },
  // mining and the triplet losses
  { op: 'mineTriplets', what: 'an unknown strategy', args: [X, Y], opts: { strategy: 'hardest' }, error: RangeError, message: /strategy.*hardest/ },
  { op: 'mineTriplets', what: 'more triplets than maxTriplets', args: [X, Y], opts: { strategy: 'all', maxTriplets: 1 }, error: RangeError, code: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS', message: /opts\.maxTriplets/ },
  { op: 'mineTriplets', what: 'a negative maxTriplets', args: [X, Y], opts: { strategy: 'all', maxTriplets: -1 }, error: RangeError, message: /maxTriplets/ },
  { op: 'mineTriplets', what: 'labels of the wrong length', args: [X, [0, 0, 1]], opts: { strategy: 'all' }, error: RangeError, message: /labels.*4.*3/ },
  { op: 'tripletLoss', what: 'a given positive of another class', args: [X, Y], opts: { mining: trip([0], [2], [3]) }, error: RangeError, message: /positive/ },
  { op: 'tripletLoss', what: 'a given negative of the same class', args: [X, Y], opts: { mining: trip([0], [1], [1]) }, error: RangeError, message: /negative/ },
  { op: 'tripletLoss', what: 'a given anchor = positive', args: [X, Y], opts: { mining: trip([0], [0], [2]) }, error: RangeError, message: /positive/ },
  { op: 'tripletLoss', what: 'a given index past the rows', args: [X, Y], opts: { mining: trip([0], [1], [4]) }, error: RangeError, message: /negative.*4/ },
  { op: 'tripletLoss', what: 'given arrays of other lengths, the anchors empty', args: [X, Y], opts: { mining: trip([], [1], []) }, error: RangeError, message: /opts\.mining\.positive: expected 0 indices/ },
  { op: 'tripletLoss', what: 'a given triplet on an empty batch', args: [{ data: new Float32Array(0), rows: 0, cols: 2 }, []], opts: { mining: trip([0], [1], [2]) }, error: RangeError, message: /opts\.mining\.anchor\[0\]: expected no index at all/ },
  { op: 'tripletLoss', what: 'a given index past the reference set', args: [X, Y], opts: { mining: trip([0], [2], [1]), reference: X3.map((r) => r.slice(0, 2)), referenceLabels: [0, 1] }, error: RangeError, message: /opts\.mining\.positive\[0\]: expected an index from 0 to 1 \(the rows of opts\.reference: 2\)/ },
  { op: 'tripletLoss', what: "reduction 'none'", args: [X, Y], opts: { reduction: 'none' }, error: RangeError, message: /reduction/ },
  { op: 'tripletLoss', what: 'an infinite margin', args: [X, Y], opts: { margin: Infinity }, error: RangeError, message: /margin/ },
  { op: 'tripletLoss', what: 'a reference set of other columns', args: [X, Y], opts: { reference: X3, referenceLabels: [0, 1] }, error: RangeError, message: /reference/ },
  { op: 'tripletMarginLoss', what: "reduction 'mean-active'", args: [X, X, X], opts: { reduction: 'mean-active' }, error: RangeError, message: /reduction/ },
  { op: 'tripletMarginLoss', what: 'positive of other rows', args: [X, X.slice(1), X], opts: {}, error: RangeError, message: /positive.*4.*3/ },
  // retrieval and verification
  { op: 'retrievalMetrics', what: 'k = 0', args: [X, Y], opts: { k: 0 }, error: RangeError, message: /\bk\b/ },
  { op: 'retrievalMetrics', what: 'referenceLabels of the wrong length', args: [X, Y], opts: { reference: X, referenceLabels: [0, 1] }, error: RangeError, message: /referenceLabels.*4.*2/ },
  { op: 'verificationMetrics', what: 'far past 1', args: [X, X, [1, 0, 1, 0]], opts: { far: 2 }, error: RangeError, message: /far/ },
  { op: 'verificationMetrics', what: 'same of the wrong length', args: [X, X, [1, 0]], opts: {}, error: RangeError, message: /same.*4.*2/ },
  { op: 'verificationMetrics', what: 'one class of pair only', args: [X, X, [1, 1, 1, 1]], opts: {}, error: RangeError, message: /same/ },
  // pair and batch losses
  { op: 'contrastiveLoss', what: 'a NaN negMargin', args: [X, Y], opts: { negMargin: NaN }, error: RangeError, message: /negMargin/ },
  { op: 'contrastiveLoss', what: "reduction 'none'", args: [X, Y], opts: { reduction: 'none' }, error: RangeError, message: /reduction/ },
  { op: 'contrastiveLoss', what: 'labels of the wrong length', args: [X, [0, 1]], opts: {}, error: RangeError, message: /labels/ },
  { op: 'multipleNegativesRankingLoss', what: 'positives of other rows', args: [X, X.slice(1)], opts: {}, error: RangeError, message: /positives/ },
  { op: 'multipleNegativesRankingLoss', what: 'an infinite scale', args: [X, X], opts: { scale: Infinity }, error: RangeError, message: /scale/ },
  { op: 'multipleNegativesRankingLoss', what: 'a euclidean similarity', args: [X, X], opts: { similarity: 'euclidean' }, error: RangeError, message: /similarity/ },
  { op: 'multipleNegativesRankingLoss', what: 'negatives of other columns', args: [X, X], opts: { negatives: X3 }, error: RangeError, message: /negatives/ },
  { op: 'supConLoss', what: 'a temperature of 0', args: [X, Y], opts: { temperature: 0 }, error: RangeError, message: /temperature/ },
  { op: 'supConLoss', what: 'a NaN temperature', args: [X, Y], opts: { temperature: NaN }, error: RangeError, message: /temperature/ },
  { op: 'supConLoss', what: 'a temperature of 0 on an empty batch', args: [{ data: new Float32Array(0), rows: 0, cols: 2 }, []], opts: { temperature: 0 }, error: RangeError, message: /temperature/ },
  { op: 'supConLoss', what: 'labels of the wrong length', args: [X, [0, 1, 1]], opts: {}, error: RangeError, message: /labels/ },
  { op: 'ladderLoss', what: 'thresholds that rise', args: [X3, [...X3, [2, 2, 2]], R], opts: { thresholds: [0.2, 0.5], margins: [0.1, 0.1] }, error: RangeError, message: /thresholds/ },
  { op: 'ladderLoss', what: 'thresholds that rise, with no query', args: [{ data: new Float32Array(0), rows: 0, cols: 3 }, X3, { data: new Float32Array(0), rows: 0, cols: 2 }], opts: { thresholds: [0.2, 0.5], margins: [0.1, 0.1] }, error: RangeError, message: /thresholds/ },
  { op: 'ladderLoss', what: 'margins of another length', args: [X3, [...X3, [2, 2, 2]], R], opts: { thresholds: [0.5], margins: [0.1, 0.1] }, error: RangeError, message: /margins/ },
  { op: 'ladderLoss', what: 'weights of another length', args: [X3, [...X3, [2, 2, 2]], R], opts: { thresholds: [0.5], margins: [0.1], weights: [1, 2] }, error: RangeError, message: /weights/ },
  { op: 'ladderLoss', what: 'no threshold', args: [X3, [...X3, [2, 2, 2]], R], opts: { thresholds: [], margins: [] }, error: RangeError, message: /thresholds/ },
  { op: 'ladderLoss', what: 'relevance of another shape', args: [X3, [...X3, [2, 2, 2]], [[1, 0]]], opts: { thresholds: [0.5], margins: [0.1] }, error: RangeError, message: /relevance/ },
  // hard negatives and OASIS
  { op: 'mineHardNegatives', what: 'numNegatives = 0', args: [X, X, [0, 1, 2, 3]], opts: { numNegatives: 0 }, error: RangeError, message: /numNegatives/ },
  { op: 'mineHardNegatives', what: 'rangeMax below rangeMin', args: [X, X, [0, 1, 2, 3]], opts: { rangeMin: 2, rangeMax: 1 }, error: RangeError, message: /rangeM/ },
  { op: 'mineHardNegatives', what: 'positives of the wrong length', args: [X, X, [0, 1]], opts: {}, error: RangeError, message: /positives/ },
  { op: 'fitOasis', what: 'c = 0', args: [X, Y], opts: { c: 0, steps: 3 }, error: RangeError, message: /opts\.c/ },
  { op: 'fitOasis', what: 'negative steps', args: [X, Y], opts: { steps: -1 }, error: RangeError, message: /steps/ },
]

interface Outcome { kind: string, code: unknown, message: string }

function outcome(err: unknown): Outcome {
  if (!(err instanceof Error)) return { kind: `not an Error: ${String(err)}`, code: undefined, message: '' }
  return { kind: err.constructor.name, code: (err as { code?: unknown }).code, message: err.message }
}

/** Whether `device` runs `op` in this process (as `backends().cuda.ops` says). */
function runs(op: Op, device: string): boolean {
  if (device !== 'cuda') return true
  return (tk.backends().cuda.ops as readonly string[]).includes(op)
}

for (const r of REFUSALS) {
  test(`${r.op}: ${r.what} is refused alike on ${DEVICES.join(', ')}, sync and async`, async (t) => {
    const [sync, later]: [Fn, Fn] = OPS[r.op]
    const seen: [string, Outcome][] = []
    for (const device of DEVICES.filter((d) => runs(r.op, d))) {
      const args = [...r.args, { ...r.opts, device }]
      let thrown: unknown = 'returned'
      try {
        sync(...args)
      } catch (e) {
        thrown = e
      }
      let promise: Promise<unknown> | undefined
      t.notThrows(() => { promise = later(...args) }, `${device}: the async twin rejects rather than throws`)
      const rejected = await promise?.then(() => 'resolved', (e: unknown) => e)
      for (const [how, err] of [['sync', thrown], ['async', rejected]] as const) {
        const o = outcome(err)
        t.is(o.kind, r.error.name, `${device} ${how}: ${o.kind}: ${o.message}`)
        if (r.code !== undefined) t.is(o.code, r.code, `${device} ${how}: code`)
        t.regex(o.message, r.message, `${device} ${how}`)
        seen.push([`${device} ${how}`, o])
      }
    }
    // The same refusal everywhere: class, code and message.
    for (const [where, o] of seen.slice(1)) t.deepEqual(o, seen[0][1], `${where} against ${seen[0][0]}`)
  })
}

test('the table refuses through every public op', (t) => {
  const covered = new Set(REFUSALS.map((r) => r.op))
  t.deepEqual([...covered].sort(), Object.keys(OPS).sort())
  t.true(REFUSALS.some((r) => r.code === undefined && r.error === RangeError))
  t.true(REFUSALS.some((r) => r.code !== INVALID && r.code !== undefined))
})
