/**
 * The interface every compute backend implements: the native addon (`crates/node`) and the
 * pure-TypeScript reference (`src/reference`). Inputs are already checked and normalised by the
 * public functions: row-major Float32Array matrices with explicit sizes, Int32Array labels,
 * and option strings spelled as in API.md.
 */

import type { RetrievalMetrics } from './types'

export interface MetricOptions {
  metric: string
  normalize: boolean
}

export interface KnnOptions extends MetricOptions {
  k: number
  excludeSelf: boolean
  /** Global index of the first query row, so that `excludeSelf` works on a batch of queries. */
  queryOffset: number
}
export interface KnnResult {
  indices: Int32Array
  distances: Float32Array
}

export interface MineOptions extends MetricOptions {
  strategy: string
  margin: number
  /** Set strategies throw `TooManyTriplets: …` rather than grow past this many triplets. */
  maxTriplets: number
}
export interface TripletsResult {
  anchor: Int32Array
  positive: Int32Array
  negative: Int32Array
}

export interface LossOptions extends MetricOptions {
  /** Exactly one of `strategy` and `triplets` is set. */
  strategy?: string
  triplets?: TripletsResult
  margin: number
  softMargin: boolean
  swap: boolean
  reduction: string
  maxTriplets: number
}
export interface LossResult {
  loss: number
  grad: Float32Array
  triplets: number
  active: number
}

export interface MarginLossOptions extends MetricOptions {
  margin: number
  softMargin: boolean
  swap: boolean
  reduction: string
}
export interface MarginLossResult {
  loss: number
  losses: Float32Array
  gradAnchor: Float32Array
  gradPositive: Float32Array
  gradNegative: Float32Array
}

export interface RetrievalOptions extends MetricOptions {
  k: number
}
/** The backends return exactly the public metrics. */
export type RetrievalResult = RetrievalMetrics

/** Synchronous ops shared by every backend. */
export interface Backend {
  pairwiseDistances(a: Float32Array, aRows: number, b: Float32Array | null, bRows: number, cols: number, opts: MetricOptions): Float32Array
  knn(queries: Float32Array, queryRows: number, corpus: Float32Array, corpusRows: number, cols: number, opts: KnnOptions): KnnResult
  mineTriplets(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts: MineOptions): TripletsResult
  tripletLoss(x: Float32Array, rows: number, cols: number, labels: Int32Array, opts: LossOptions): LossResult
  tripletMarginLoss(anchor: Float32Array, positive: Float32Array, negative: Float32Array, rows: number, cols: number, opts: MarginLossOptions): MarginLossResult
  /** `reference === null`: queries searched against themselves, self excluded. */
  retrievalMetrics(queries: Float32Array, queryRows: number, queryLabels: Int32Array, reference: Float32Array | null, referenceRows: number, referenceLabels: Int32Array | null, cols: number, opts: RetrievalOptions): RetrievalResult
}

/** A stop flag shared with a native async task: `cancel()` makes it skip its remaining blocks. */
export interface CancelToken {
  cancel(): void
  readonly cancelled: boolean
}

/** An async twin of a backend op: the same arguments, then an optional CancelToken. */
type AsyncOp<K extends keyof Backend> = (...args: [...Parameters<Backend[K]>, CancelToken?]) => Promise<ReturnType<Backend[K]>>

/** The native addon: the sync ops plus `…Async` twins that run on the libuv pool. */
export interface NativeBinding extends Backend {
  cpuThreads(): number
  CancelToken: new () => CancelToken
  pairwiseDistancesAsync: AsyncOp<'pairwiseDistances'>
  knnAsync: AsyncOp<'knn'>
  mineTripletsAsync: AsyncOp<'mineTriplets'>
  tripletLossAsync: AsyncOp<'tripletLoss'>
  tripletMarginLossAsync: AsyncOp<'tripletMarginLoss'>
  retrievalMetricsAsync: AsyncOp<'retrievalMetrics'>
}
