/** Every public op as its sync and async pair, for the specs that call each op the same way. */
import * as tk from '../../index'

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Fn = (...args: any[]) => any

export const OPS = {
  pairwiseDistances: [tk.pairwiseDistancesSync, tk.pairwiseDistances],
  knn: [tk.knnSync, tk.knn],
  mineTriplets: [tk.mineTripletsSync, tk.mineTriplets],
  tripletLoss: [tk.tripletLossSync, tk.tripletLoss],
  tripletMarginLoss: [tk.tripletMarginLossSync, tk.tripletMarginLoss],
  retrievalMetrics: [tk.retrievalMetricsSync, tk.retrievalMetrics],
  contrastiveLoss: [tk.contrastiveLossSync, tk.contrastiveLoss],
  multipleNegativesRankingLoss: [tk.multipleNegativesRankingLossSync, tk.multipleNegativesRankingLoss],
  verificationMetrics: [tk.verificationMetricsSync, tk.verificationMetrics],
  ladderLoss: [tk.ladderLossSync, tk.ladderLoss],
  supConLoss: [tk.supConLossSync, tk.supConLoss],
  mineHardNegatives: [tk.mineHardNegativesSync, tk.mineHardNegatives],
  fitOasis: [tk.fitOasisSync, tk.fitOasis],
} satisfies Record<string, [Fn, Fn]>

export type Op = keyof typeof OPS
