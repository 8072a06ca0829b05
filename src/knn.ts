/**
 * knn: exact k nearest neighbours. The corpus is prepared once per call (a `KnnIndex`: copied,
 * normalised and its norms computed, on a GPU uploaded); queries then stream against it in
 * batches, so that progress can be reported and an abort stops the work between batches. The
 * backend never builds the full queries × corpus matrix.
 */

import type { KnnResult as BackendKnnResult, KnnSearcher, NativeBinding, SearchOptions } from './backend'
import { maxNeighbours, nativeOptions, resolveDevice, type Target } from './device'
import { abortError } from './errors'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { expectLength, runSync, startOp, withSignal } from './run'
import type { KnnOptions, KnnResult, Matrix, MatrixLike, Metric } from './types'
import { checkBoolean, checkCallback, checkCommon, checkInteger, checkPositiveInteger, checkResultSize } from './validate'
import { OPTION_KEYS, readOptions } from './options'
import { defaultBatch } from './pieceSearch'


/** Internal: a checked knn call. */
export interface KnnCall {
  target: Target
  queries: Matrix
  corpus: Matrix
  cols: number
  k: number
  metric: Metric
  normalize: boolean
  excludeSelf: boolean
  batchSize: number
  signal: AbortSignal | undefined
  onProgress: ((done: number, total: number) => void) | undefined
  maxMemory: number | undefined
}

/** Internal: checks a knn call's arguments (the names in messages are knn's). */
export function prepareKnn(queries: MatrixLike, corpus: MatrixLike, opts: KnnOptions,
  tooManyNeighbours: (limit: number, device: string) => string = (limit, device) =>
    `opts.k: expected at most ${limit} on device '${device}', received ${opts.k}`): KnnCall {
  const o = readOptions(opts, OPTION_KEYS.knn, 'opts', true)
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(corpus, 'corpus')
  checkSameCols(c, 'corpus', q, 'queries')
  const common = checkCommon(o)
  const excludeSelf = checkBoolean(o.excludeSelf, 'opts.excludeSelf', false)
  // k within the corpus (and a corpus to search) is core's rule; here only a whole number.
  const k = checkInteger(o.k, 'opts.k', 1)
  checkResultSize(q.rows * k, 8, `opts.k: ${q.rows} queries × k = ${k} neighbours`, 'ask for fewer neighbours or fewer queries at once')
  const batchSize = checkPositiveInteger(o.batchSize, 'opts.batchSize', defaultBatch(c.rows))
  const onProgress = checkCallback<(done: number, total: number) => void>(o.onProgress, 'opts.onProgress')
  let target = resolveDevice(common.device, { op: 'knn', macs: q.rows * c.rows * c.cols, bytes: 4 * (q.rows + c.rows) * c.cols + 8 * q.rows * k })
  const limit = maxNeighbours(target)
  if (limit !== undefined && k > limit) {
    // 'auto' picks a device that can; a device asked for by name refuses, naming the argument.
    if (common.device !== 'auto') throw new RangeError(tooManyNeighbours(limit, target.device))
    target = resolveDevice('cpu')
  }
  return {
    target,
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
    maxMemory: common.maxMemory,
  }
}

/** The corpus of a call, prepared once by the call's backend; the addon's index also searches async. */
interface Index {
  readonly searcher: () => KnnSearcher
  readonly native?: InstanceType<NativeBinding['KnnIndex']>
}

function makeIndex(call: KnnCall): Index {
  const { corpus, cols, target } = call
  const opts = { metric: call.metric, normalize: call.normalize, ...nativeOptions(target, call.maxMemory) }
  if (target.native === undefined) {
    // The reference prepares its corpus at the first search, so an async call does that work
    // after its setImmediate, like all its other work.
    let searcher: KnnSearcher | undefined
    return { searcher: () => (searcher ??= new target.backend.KnnIndex(corpus.data, corpus.rows, cols, opts)) }
  }
  const native = new target.native.KnnIndex(corpus.data, corpus.rows, cols, opts)
  return { searcher: () => native, native }
}

/** The search of query rows [start, end): its queries, rows and options. */
function batchArgs(call: KnnCall, start: number, end: number): [Float32Array, number, SearchOptions] {
  const { queries, cols } = call
  return [queries.data.subarray(start * cols, end * cols), end - start, { k: call.k, excludeSelf: call.excludeSelf, queryOffset: start }]
}

/**
 * The whole search as one backend call, when one batch holds every query: the corpus is then
 * used once, and borrowed rather than copied where the device allows.
 */
function wholeArgs(call: KnnCall): Parameters<NativeBinding['knn']> {
  const { queries, corpus, cols } = call
  return [queries.data, queries.rows, corpus.data, corpus.rows, cols,
    { metric: call.metric, normalize: call.normalize, ...nativeOptions(call.target, call.maxMemory) },
    { k: call.k, excludeSelf: call.excludeSelf, queryOffset: 0 }]
}

/** Searches query rows [start, end) off the main thread where the device allows. */
function searchAsync(index: Index, call: KnnCall, start: number, end: number): Promise<BackendKnnResult> {
  const args = batchArgs(call, start, end)
  // startOp takes the async path only for a native target, whose index is native.
  return startOp(call.target, () => index.searcher().search(...args), (_n, token) => index.native!.searchAsync(...args, token), call.signal)
}

/** Copies one batch's rows into the full result, checking its shape. */
function store(call: KnnCall, out: KnnResult, start: number, end: number, part: BackendKnnResult): void {
  const n = (end - start) * call.k
  out.indices.set(expectLength(part.indices, n, 'knn indices'), start * call.k)
  out.distances.set(expectLength(part.distances, n, 'knn distances'), start * call.k)
}

/** A search of every query at once: the backend's arrays are the result, with no copy. */
function wholeResult(call: KnnCall, part: BackendKnnResult): KnnResult {
  const n = call.queries.rows * call.k
  return {
    indices: expectLength(part.indices, n, 'knn indices'),
    distances: expectLength(part.distances, n, 'knn distances'),
    rows: call.queries.rows,
    k: call.k,
  }
}

/**
 * The batches' results gathered into one: a single batch of every query is the result as the
 * backend gave it; batches are copied into arrays of the whole.
 */
function gathering(call: KnnCall): { consume: ConsumeBatch, result: () => KnnResult } {
  let out: KnnResult | undefined
  return {
    consume: (start, end, part) => {
      if (start === 0 && end === call.queries.rows) {
        out = wholeResult(call, part)
        return
      }
      out ??= emptyResult(call)
      store(call, out, start, end, part)
    },
    result: () => out ?? emptyResult(call),
  }
}

function emptyResult(call: KnnCall): KnnResult {
  const n = call.queries.rows * call.k
  return { indices: new Int32Array(n), distances: new Float32Array(n), rows: call.queries.rows, k: call.k }
}

/** What to do with the neighbours of query rows [start, end) as each batch arrives. */
export type ConsumeBatch = (start: number, end: number, part: BackendKnnResult) => void

/**
 * Internal: runs a checked knn call batch by batch off the main thread, handing each batch to
 * `consume` and reporting progress; an abort rejects at once and starts no further batch. One
 * backend call when one batch holds every query, else one prepared corpus for every batch.
 */
export async function searchBatches(call: KnnCall, consume: ConsumeBatch): Promise<void> {
  const { signal, onProgress } = call
  const total = call.queries.rows
  // No query still goes to the backend once, whose rules (k within the corpus) it must pass.
  if (total <= call.batchSize) {
    const args = wholeArgs(call)
    consume(0, total, await withSignal(signal, () => startOp(call.target, (b) => b.knn(...args), (n, token) => n.knnAsync(...args, token), signal)))
    if (total > 0) onProgress?.(total, total)
    return
  }
  return withSignal(signal, async () => {
    const index = makeIndex(call)
    for (let start = 0; start < total; start += call.batchSize) {
      // Stop launching batches once aborted (withSignal has already rejected).
      if (signal?.aborted) throw abortError(signal)
      const end = Math.min(total, start + call.batchSize)
      const part = await searchAsync(index, call, start, end)
      if (signal?.aborted) throw abortError(signal)
      consume(start, end, part)
      onProgress?.(end, total)
    }
  })
}

/** Internal: the synchronous twin of {@link searchBatches}. */
export function searchBatchesSync(call: KnnCall, consume: ConsumeBatch): void {
  const { signal, onProgress } = call
  const total = call.queries.rows
  if (signal?.aborted) throw abortError(signal)
  if (total <= call.batchSize) {
    const args = wholeArgs(call)
    consume(0, total, runSync(call.target, (b) => b.knn(...args), signal))
    if (total > 0) onProgress?.(total, total)
    return
  }
  const index = makeIndex(call)
  for (let start = 0; start < total; start += call.batchSize) {
    const end = Math.min(total, start + call.batchSize)
    const args = batchArgs(call, start, end)
    consume(start, end, runSync(call.target, () => index.searcher().search(...args), signal))
    onProgress?.(end, total)
  }
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
  const call = prepareKnn(queries, corpus, opts)
  const gather = gathering(call)
  await searchBatches(call, gather.consume)
  return gather.result()
}

/**
 * Synchronous twin of {@link knn}: same arguments, returns the result directly. It runs the
 * same batches (calling `onProgress` after each) and throws AbortError if `signal` is aborted
 * before a batch starts.
 */
export function knnSync(queries: MatrixLike, corpus: MatrixLike, opts: KnnOptions): KnnResult {
  const call = prepareKnn(queries, corpus, opts)
  const gather = gathering(call)
  searchBatchesSync(call, gather.consume)
  return gather.result()
}
