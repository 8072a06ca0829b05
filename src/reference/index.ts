/**
 * The pure-TypeScript reference backend (device 'js'): every op of `Backend` written plainly,
 * in float64 with float32 results, as API.md and docs/SEMANTICS.md define it. It is the oracle
 * the native backends are tested against, so it favours being obviously right over being fast.
 * Inputs are assumed already checked by the public layer (src/*.ts); option fields left out
 * take API.md's defaults, as on the native side.
 */
import type { Backend } from '../backend'
import { contrastiveLoss } from './contrastive'
import { pairwiseDistances } from './pairwise'
import { knn, KnnIndex } from './knn'
import { ladderLoss } from './ladder'
import { mineTriplets } from './mining'
import { tripletLoss } from './loss'
import { tripletMarginLoss } from './marginLoss'
import { oasisSteps } from './oasis'
import { multipleNegativesRankingLoss } from './ranking'
import { retrievalMetrics } from './retrieval'
import { supConLoss } from './supCon'
import { verificationMetrics } from './verification'

export const reference: Backend = {
  pairwiseDistances,
  knn,
  KnnIndex,
  mineTriplets,
  tripletLoss,
  tripletMarginLoss,
  retrievalMetrics,
  contrastiveLoss,
  multipleNegativesRankingLoss,
  verificationMetrics,
  ladderLoss,
  supConLoss,
  oasisSteps,
}

export { distance, distanceGrad, normalizeRows, normalizeBackward } from './distance'
