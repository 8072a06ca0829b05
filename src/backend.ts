/**
 * The interface every compute backend implements: the native addon (`crates/node`) and the
 * pure-TypeScript reference (`src/reference`). Its types are those of the addon's generated
 * `binding.d.ts`, so a change on the Rust side that the TypeScript layer does not follow fails
 * the type check. Inputs are already checked and normalised by the public functions.
 */

import type * as binding from '../binding'

export type {
  BackendsReport, CancelToken, ContrastiveOptions, KnnResult, LadderOptions, LadderResult, OasisOptions as OasisStepOptions, OasisResult, RankingOptions, RankingResult, VerificationOptions, VerificationResult, LossOptions, LossResult, MarginLossOptions, MarginLossResult, MetricOptions,
  MineOptions, MinedTriplets as TripletsResult, RetrievalOptions, RetrievalResult, SearchOptions, SupConOptions, SupConResult,
} from '../binding'

/** The native addon, exactly as `binding.d.ts` declares it. */
export type NativeBinding = typeof binding

/**
 * The ops every backend runs synchronously: every function of the addon but its `…Async` twins
 * and its plumbing. A new op in binding.d.ts therefore fails the type check until the
 * reference implements it too.
 */
type SyncOp = Exclude<keyof NativeBinding, `${string}Async` | 'backends' | 'allFinite' | 'cudaFailure' | 'cudaMath' | 'setCudaMath' | 'memoryBudget' | 'CancelToken' | 'KnnIndex' | '__napiBindingTarget'>

/** A corpus prepared once and searched batch by batch. */
export type KnnSearcher = Pick<InstanceType<NativeBinding['KnnIndex']>, 'search'>

/** Synchronous ops shared by every backend; the addon adds `…Async` twins that run on its own threads. */
export type Backend = Pick<NativeBinding, SyncOp> & {
  KnnIndex: new (...args: ConstructorParameters<NativeBinding['KnnIndex']>) => KnnSearcher
}
