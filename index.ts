/**
 * tripletkit: triplet loss, online triplet mining, exact k-NN and retrieval metrics for Node.js,
 * on a Rust core with a pure-TypeScript reference. The public API (v1) is exactly what this
 * file exports; see API.md.
 *
 * @module tripletkit
 */

export { matrix } from './src/matrix'
export { backends, CUDA_AUTO_MIN_MACS } from './src/device'
export { setCudaMath } from './src/cudaMath'
export { pairwiseDistances, pairwiseDistancesSync } from './src/pairwise'
export { knn, knnSync } from './src/knn'
export { KnnIndex } from './src/knnIndex'
export { mergeKnn, mergeHardNegatives, hardNegativeCandidates, hardNegativeCandidatesSync } from './src/merge'
export { mergeTripletSamples } from './src/sample'
export { mineTriplets, mineTripletsSync } from './src/mining'
export { tripletLoss, tripletLossSync } from './src/loss'
export { tripletMarginLoss, tripletMarginLossSync } from './src/marginLoss'
export { retrievalMetrics, retrievalMetricsSync } from './src/retrieval'
export { contrastiveLoss, contrastiveLossSync } from './src/contrastive'
export { multipleNegativesRankingLoss, multipleNegativesRankingLossSync } from './src/ranking'
export { verificationMetrics, verificationMetricsSync } from './src/verification'
export { ladderLoss, ladderLossSync } from './src/ladder'
export { supConLoss, supConLossSync } from './src/supCon'
export { mineHardNegatives, mineHardNegativesSync } from './src/hardNegatives'
export { fitLinearAdapter, fitLinearAdapterSync } from './src/adapter'
export { fitOasis, fitOasisSync } from './src/oasis'
export { readNpy, writeNpy, type NpyArray, type NpyDtype } from './src/npy'
export { openNpy, type NpyFile } from './src/npyFile'
export type {
  AbortOptions, AdapterEpoch, HardNegativeCandidates, HardNegativeCandidatesOptions, KnnIndexOptions, KnnIndexSearchOptions, KnnPart, MergeHardNegativesOptions, BackendsInfo, ContrastiveLossOptions, CudaMath, Device, HardNegatives, LinearAdapter, LinearAdapterOptions,
  MineHardNegativesOptions, OasisCheckpoint, OasisModel, OasisOptions, ValidationSet, LadderLossOptions, LadderLossResult, DeviceInfo, KnnOptions, KnnResult, Labels, LossReduction, LossResult, MarginLossReduction,
  Matrix, MatrixLike, Metric, MetricOptions, MineTripletsOptions, MultipleNegativesRankingLossOptions,
  MultipleNegativesRankingLossResult, PairwiseDistancesOptions, RetrievalMetrics,
  RetrievalMetricsOptions, SampleOptions, Similarity, Strategy, SupConLossOptions, SupConLossResult, TripletLossOptions, TripletMarginLossOptions, TripletMarginLossResult, Triplets,
  TripletsLike, VerificationMetrics, VerificationMetricsOptions,
} from './src/types'
