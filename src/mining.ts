/** mineTriplets: online triplet mining over one batch of labelled embeddings. */

import type { TripletsResult } from './backend'
import { memoryHeadroom } from './memory'
import { nativeOptions, resolveDevice } from './device'
import { checkSameCols, toMatrix } from './matrix'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Labels, Matrix, MatrixLike, MineTripletsOptions, Strategy, Triplets } from './types'
import { checkCallback, checkCommon, checkFinite, checkInteger, checkStrategy, INT32_MAX, SMALL_RESULT, toLabels } from './validate'
import { checkSample } from './sample'
import { OPTION_KEYS, readOptions } from './options'

/** α when the caller gives none (API.md). */
export const DEFAULT_MARGIN = 0.2

/** Bytes a triplet is counted at against the memory headroom: a generous cost. */
const TRIPLET_BYTES = 32

/**
 * The effective `maxTriplets` (docs/SEMANTICS.md): `min(2**31 − 1, floor(headroom / 32))`, where
 * the headroom is what this process can still allocate, read at call time (see
 * {@link memoryHeadroom}: container limits and calls in flight count); 32 bytes is a generous
 * cost per triplet. The option may lower it but not raise it. `needsMemoryLimit: false`
 * (batch-hard, or given triplets, which never exceed the batch size) skips the reading, and so
 * does a call whose every possible triplet (`most`) fits in 8 MiB, which always fits, as
 * results that small do everywhere else: the reading costs a few file reads, 40 µs, more than
 * mining a batch of 64 rows.
 */
export function checkMaxTriplets(value: unknown, name: string, needsMemoryLimit = true, most = Infinity): number {
  const small = most * TRIPLET_BYTES < SMALL_RESULT
  const limit = needsMemoryLimit && !small ? Math.min(INT32_MAX, Math.floor(memoryHeadroom() / TRIPLET_BYTES)) : INT32_MAX
  if (value === undefined) return limit
  return Math.min(limit, checkInteger(value, name, 0, INT32_MAX))
}

/**
 * The most triplets `strategy` can give for `rows` anchors and `candidates` candidates: one a
 * positive pair for batch-semihard, one a (positive, negative) pair for the set strategies.
 */
export function mostTriplets(strategy: Strategy, rows: number, candidates: number): number {
  switch (strategy) {
    case 'batch-hard': return rows
    case 'batch-semihard': return rows * candidates
    default: return rows * candidates * candidates
  }
}

/** A checked cross-batch reference set: its rows and their labels. */
export interface ReferenceSet {
  readonly x: Matrix
  readonly labels: Int32Array
}

/**
 * Internal: `reference` and `referenceLabels` of an options object (cross-batch reference), which
 * come together or not at all, the reference with the embeddings' columns.
 */
export function checkReference(o: { reference?: unknown; referenceLabels?: unknown }, x: Matrix): ReferenceSet | undefined {
  if ((o.reference === undefined) !== (o.referenceLabels === undefined)) {
    const [given, missing] = o.reference === undefined ? ['referenceLabels', 'reference'] : ['reference', 'referenceLabels']
    throw new TypeError(`opts.${missing}: expected it together with opts.${given}, received undefined`)
  }
  if (o.reference === undefined) return undefined
  return labelledRows(o.reference, o.referenceLabels, 'opts.reference', 'opts.referenceLabels', x)
}

/** Internal: rows and their labels, the rows with the embeddings' columns. */
export function labelledRows(rows: unknown, labels: unknown, rowsName: string, labelsName: string, x: Matrix): ReferenceSet {
  const r = toMatrix(rows, rowsName)
  checkSameCols(x, 'embeddings', r, rowsName)
  return { x: r, labels: toLabels(labels, labelsName, r.rows, rowsName) }
}

/** The backend arguments of a reference set: its rows, row count and labels (nulls without one). */
export function referenceArgs(m: ReferenceSet | undefined): [Float32Array | null, number | null, Int32Array | null] {
  return m === undefined ? [null, null, null] : [m.x.data, m.x.rows, m.labels]
}

/** Internal: backend triplets → the public {@link Triplets}, with matching lengths checked. */
export function toPublicTriplets(t: TripletsResult): Triplets {
  const n = t.anchor?.length
  return {
    anchor: expectLength(t.anchor, n, 'anchor indices'),
    positive: expectLength(t.positive, n, 'positive indices'),
    negative: expectLength(t.negative, n, 'negative indices'),
    length: n,
  }
}

function plan(embeddings: MatrixLike, labels: Labels, opts: MineTripletsOptions): Plan<Triplets, TripletsResult> {
  const o = readOptions(opts, OPTION_KEYS.mine, 'opts', true)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const strategy = checkStrategy(o.strategy, 'opts.strategy')
  const margin = checkFinite(o.margin, 'opts.margin', DEFAULT_MARGIN)
  const reference = checkReference(o, x)
  const sample = checkSample(o.sample, 'opts.sample', strategy, reference !== undefined)
  const maxTriplets = checkMaxTriplets(o.maxTriplets, 'opts.maxTriplets', strategy !== 'batch-hard' && sample === undefined,
    mostTriplets(strategy, x.rows, reference?.x.rows ?? x.rows))
  const common = checkCommon(o)
  const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
  const target = resolveDevice(common.device,
    { op: 'mineTriplets', macs: x.rows * (reference?.x.rows ?? x.rows) * x.cols, bytes: 4 * (x.rows + (reference?.x.rows ?? 0)) * (x.cols + 1) })
  const empty = x.rows === 0 || reference?.x.rows === 0
    ? { anchor: new Int32Array(0), positive: new Int32Array(0), negative: new Int32Array(0), length: 0 }
    : undefined
  const args = [x.data, x.rows, x.cols, y,
    { metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory), strategy, margin, maxTriplets, ...(sample === undefined ? {} : { sample }) },
    ...referenceArgs(reference)] as const
  return {
    target,
    run: (backend) => backend.mineTriplets(...args),
    start: (native, token) => native.mineTripletsAsync(...args, token),
    signal: common.signal,
    shape: toPublicTriplets,
    empty,
    onProgress,
  }
}

/**
 * Mines triplets (a, p, n) from labelled embeddings: a ≠ p, label[a] = label[p],
 * label[n] ≠ label[a]. With m = d(a,n) − d(a,p) and margin α: `all` every valid triplet,
 * `violating` m ≤ α, `hard` m ≤ 0, `semihard` 0 < m ≤ α, `easy` m > α (ascending by (a, p, n));
 * `batch-hard` one triplet per anchor with the farthest positive and nearest negative
 * (ascending anchor); `batch-semihard` one per positive pair (a, p): the nearest negative
 * farther than p, else the farthest negative (ascending (a, p)). Ties go to the lower index.
 *
 * The set strategies can be cubic in the batch size: past `maxTriplets` they reject with a
 * RangeError (message starting 'TooManyTriplets: ') instead of exhausting reference.
 * Runs off the main thread; see {@link mineTripletsSync}.
 *
 * @param embeddings - `rows × d` embeddings.
 * @param labels - one class id per row.
 * @param opts - `strategy` (required), `margin` (α, default 0.2), `metric` (default
 *   'euclidean'), `normalize`, `maxTriplets`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const t = await mineTriplets(x, labels, { strategy: 'semihard', margin: 0.3 })
 * for (let i = 0; i < t.length; i++) use(t.anchor[i], t.positive[i], t.negative[i])
 */
export async function mineTriplets(embeddings: MatrixLike, labels: Labels, opts: MineTripletsOptions): Promise<Triplets> {
  return execAsync(plan(embeddings, labels, opts))
}

/** Synchronous twin of {@link mineTriplets}: same arguments, returns the triplets directly. */
export function mineTripletsSync(embeddings: MatrixLike, labels: Labels, opts: MineTripletsOptions): Triplets {
  return execSync(plan(embeddings, labels, opts))
}
