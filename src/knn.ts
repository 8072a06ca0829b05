/**
 * knn: exact k nearest neighbours. Queries are split into batches so that progress can be
 * reported and an abort stops the work between batches; the backend never builds the full
 * queries × corpus matrix.
 */

import type { Backend, KnnResult as BackendKnnResult } from './backend'
import { resolveDevice, type Target } from './device'
import { abortError } from './errors'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { expectLength, runSync, startOp, withSignal } from './run'
import type { KnnOptions, KnnResult, Matrix, MatrixLike } from './types'
import { checkBoolean, checkCallback, checkCommon, checkInteger, checkOptions, checkPositiveInteger, checkResultSize } from './validate'

/**
 * Default batches. Each batch pays for one pass over the corpus (its copy off the JS thread, its
 * norms, normalising it), so a batch must be large next to that pass: 1024 query rows keep it
 * to a few per cent; a small corpus gets more rows, so that each call still computes about 4 Mi
 * distances. Memory does not grow with the batch: the backend folds distances tile by tile.
 */
const MIN_DEFAULT_BATCH = 1024
const BATCH_DISTANCES = 4_194_304

interface KnnCall {
  target: Target
  queries: Matrix
  corpus: Matrix
  cols: number
  k: number
  metric: string
  normalize: boolean
  excludeSelf: boolean
  batchSize: number
  signal: AbortSignal | undefined
  onProgress: ((done: number, total: number) => void) | undefined
}

function prepare(queries: MatrixLike, corpus: MatrixLike, opts: KnnOptions): KnnCall {
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(corpus, 'corpus')
  checkSameCols(c, 'corpus', q, 'queries')
  const o = checkOptions(opts, 'opts', true)
  const common = checkCommon(o)
  const excludeSelf = checkBoolean(o.excludeSelf, 'opts.excludeSelf', false)
  const k = checkInteger(o.k, 'opts.k', 1)
  const maxK = excludeSelf ? c.rows - 1 : c.rows
  if (maxK < 1) {
    throw new RangeError(`corpus: expected at least ${excludeSelf ? 2 : 1} rows to find neighbours in` +
      `${excludeSelf ? ' with excludeSelf' : ''}, received ${c.rows}`)
  }
  checkInteger(k, 'opts.k', 1, maxK,
    `an integer from 1 to ${maxK} (${excludeSelf ? 'corpus rows − 1, because of excludeSelf' : 'the corpus rows'})`)
  checkResultSize(q.rows * k, 8, `opts.k: ${q.rows} queries × k = ${k} neighbours`, 'ask for fewer neighbours or fewer queries at once')
  const defaultBatch = Math.max(MIN_DEFAULT_BATCH, Math.ceil(BATCH_DISTANCES / c.rows))
  const batchSize = checkPositiveInteger(o.batchSize, 'opts.batchSize', defaultBatch)
  const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
  return {
    target: resolveDevice(common.device),
    queries: q,
    corpus: c,
    cols: sharedCols(q, c),
    k,
    metric: common.metric,
    normalize: common.normalize,
    excludeSelf,
    batchSize,
    signal: common.signal,
    onProgress,
  }
}

/** The backend arguments for query rows [start, end). */
function batchArgs(call: KnnCall, start: number, end: number): Parameters<Backend['knn']> {
  const { queries, corpus, cols } = call
  return [
    queries.data.subarray(start * cols, end * cols), end - start,
    corpus.data, corpus.rows, cols,
    { metric: call.metric, normalize: call.normalize, k: call.k, excludeSelf: call.excludeSelf, queryOffset: start },
  ]
}

/** Copies one batch's rows into the full result, checking its shape. */
function store(call: KnnCall, out: KnnResult, start: number, end: number, part: BackendKnnResult): void {
  const n = (end - start) * call.k
  out.indices.set(expectLength(part.indices, n, 'knn indices'), start * call.k)
  out.distances.set(expectLength(part.distances, n, 'knn distances'), start * call.k)
}

function emptyResult(call: KnnCall): KnnResult {
  const n = call.queries.rows * call.k
  return { indices: new Int32Array(n), distances: new Float32Array(n), rows: call.queries.rows, k: call.k }
}

/**
 * The `k` nearest rows of `corpus` for every row of `queries`, exact. Results are row-major
 * `rows × k`, each row ascending by distance, ties broken by the lower corpus index.
 *
 * Runs off the main thread in batches of `batchSize` query rows, calling `onProgress(done, total)`
 * after each; aborting `signal` rejects at once and starts no further batch. Inputs are read
 * while the work runs: do not write to their buffers until the promise settles.
 *
 * @param queries - `rows × d` query embeddings.
 * @param corpus - `m × d` embeddings to search.
 * @param opts - `k` (required, 1 ≤ k ≤ m, or ≤ m − 1 with `excludeSelf`), `metric`
 *   (default 'euclidean'), `normalize`, `excludeSelf` (query i never returns corpus index i),
 *   `device`, `batchSize`, `signal`, `onProgress`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { indices } = await knn(x, x, { k: 5, excludeSelf: true })
 */
export async function knn(queries: MatrixLike, corpus: MatrixLike, opts: KnnOptions): Promise<KnnResult> {
  const call = prepare(queries, corpus, opts)
  const { signal, onProgress } = call
  const total = call.queries.rows
  const out = emptyResult(call)
  if (total === 0) {
    if (signal?.aborted) throw abortError(signal)
    return out
  }
  return withSignal(signal, async () => {
    for (let start = 0; start < total; start += call.batchSize) {
      // Stop launching batches once aborted (withSignal has already rejected).
      if (signal?.aborted) throw abortError(signal)
      const end = Math.min(total, start + call.batchSize)
      const part = await startOp(call.target, 'knn', batchArgs(call, start, end), signal)
      if (signal?.aborted) throw abortError(signal)
      store(call, out, start, end, part)
      onProgress?.(end, total)
    }
    return out
  })
}

/**
 * Synchronous twin of {@link knn}: same arguments, returns the result directly. It runs the
 * same batches (calling `onProgress` after each) and throws AbortError if `signal` is aborted
 * before a batch starts.
 */
export function knnSync(queries: MatrixLike, corpus: MatrixLike, opts: KnnOptions): KnnResult {
  const call = prepare(queries, corpus, opts)
  const { signal, onProgress } = call
  const total = call.queries.rows
  const out = emptyResult(call)
  if (signal?.aborted) throw abortError(signal)
  for (let start = 0; start < total; start += call.batchSize) {
    const end = Math.min(total, start + call.batchSize)
    store(call, out, start, end, runSync(call.target, 'knn', batchArgs(call, start, end), signal))
    onProgress?.(end, total)
  }
  return out
}
