/** retrievalMetrics: how well labelled embeddings retrieve their own class (AccuracyCalculator's metrics). */

import type { RetrievalResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { execAsync, execSync, type Plan } from './run'
import type { Labels, Matrix, MatrixLike, RetrievalMetrics, RetrievalMetricsOptions } from './types'
import { checkCommon, checkPositiveInteger, toLabels } from './validate'
import { OPTION_KEYS, readOptions } from './options'

/** k for recallAtK / precisionAtK when the caller gives none (API.md). */
const DEFAULT_K = 10

const ZERO: RetrievalMetrics = { precisionAt1: 0, rPrecision: 0, mapAtR: 0, mrr: 0, recallAtK: 0, precisionAtK: 0, queries: 0 }

function plan(queries: MatrixLike, queryLabels: Labels, opts: RetrievalMetricsOptions | undefined): Plan<RetrievalMetrics, RetrievalResult> {
  const o = readOptions(opts, OPTION_KEYS.retrieval)
  const q = toMatrix(queries, 'queries')
  const ql = toLabels(queryLabels, 'queryLabels', q.rows, 'queries')
  // reference and referenceLabels only make sense together: one alone is a missing argument.
  if ((o.reference === undefined) !== (o.referenceLabels === undefined)) {
    const [given, missing] = o.reference === undefined ? ['referenceLabels', 'reference'] : ['reference', 'referenceLabels']
    throw new TypeError(`opts.${missing}: expected it together with opts.${given}, received undefined`)
  }
  let ref: Matrix | null = null
  let refLabels: Int32Array | null = null
  if (o.reference !== undefined) {
    ref = toMatrix(o.reference, 'opts.reference')
    checkSameCols(q, 'queries', ref, 'opts.reference')
    refLabels = toLabels(o.referenceLabels, 'opts.referenceLabels', ref.rows, 'opts.reference')
  }
  // k past the candidates means all of them (docs/SEMANTICS.md); clamping here also keeps it in the
  // backends' 32-bit range.
  const candidates = ref === null ? Math.max(0, q.rows - 1) : ref.rows
  const k = Math.min(checkPositiveInteger(o.k, 'opts.k', DEFAULT_K), Math.max(1, candidates))
  const common = checkCommon(o)
  const target = resolveDevice(common.device, { op: 'retrievalMetrics', macs: q.rows * (ref === null ? q.rows : ref.rows) * q.cols, bytes: 4 * (q.rows + (ref?.rows ?? 0)) * q.cols + 8 * q.rows * k })
  // No query, or nothing to retrieve from: every query has R = 0 and is left out (docs/SEMANTICS.md).
  const empty = q.rows === 0 || (ref !== null && ref.rows === 0) ? { ...ZERO } : undefined
  const args = [q.data, q.rows, ql, ref === null ? null : ref.data, ref === null ? q.rows : ref.rows, refLabels,
    ref === null ? q.cols : sharedCols(q, ref), { metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory), k }] as const
  return {
    target,
    run: (backend) => backend.retrievalMetrics(...args),
    start: (native, token) => native.retrievalMetricsAsync(...args, token),
    signal: common.signal,
    // Copy the documented fields only, so that a backend's extra fields never leak into the API.
    shape: (r) => ({
      precisionAt1: r.precisionAt1, rPrecision: r.rPrecision, mapAtR: r.mapAtR, mrr: r.mrr,
      recallAtK: r.recallAtK, precisionAtK: r.precisionAtK, queries: r.queries,
    }),
    empty,
  }
}

/**
 * Retrieval metrics of labelled embeddings, as pytorch-metric-learning's AccuracyCalculator:
 * each query ranks the references by distance (ties to the lower index); with R its number of
 * relevant references (same label, itself excluded when searching a set against itself):
 * `precisionAt1`, `rPrecision` (relevant fraction of the first R), `mapAtR`, `mrr`,
 * `recallAtK` (a relevant one in the first k), `precisionAtK`. Queries with R = 0 are left
 * out of every mean; `queries` counts those kept (with none kept, every metric is 0).
 *
 * Runs off the main thread; see {@link retrievalMetricsSync}.
 *
 * @param queries - `rows × d` query embeddings.
 * @param queryLabels - one class id per query.
 * @param opts - `reference` and `referenceLabels` (together; omitted: the queries against
 *   themselves, self excluded), `k` (default 10), `metric` (default 'euclidean'), `normalize`,
 *   `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { mapAtR, precisionAt1 } = await retrievalMetrics(x, labels, { metric: 'cosine' })
 */
export async function retrievalMetrics(queries: MatrixLike, queryLabels: Labels, opts?: RetrievalMetricsOptions): Promise<RetrievalMetrics> {
  return execAsync(plan(queries, queryLabels, opts))
}

/** Synchronous twin of {@link retrievalMetrics}: same arguments, returns the metrics directly. */
export function retrievalMetricsSync(queries: MatrixLike, queryLabels: Labels, opts?: RetrievalMetricsOptions): RetrievalMetrics {
  return execSync(plan(queries, queryLabels, opts))
}
