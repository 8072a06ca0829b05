/** contrastiveLoss: the contrastive loss of every pair of a labelled batch, with its gradient. */

import type { LossResult as BackendLossResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { toMatrix } from './matrix'
import { lossShape, zeroLoss } from './loss'
import { execAsync, execSync, type Plan } from './run'
import type { ContrastiveLossOptions, Labels, LossResult, MatrixLike } from './types'
import { LOSS_REDUCTIONS, checkCommon, checkEnum, checkFinite, checkResultSize, toLabels } from './validate'
import { OPTION_KEYS, readOptions } from './options'

function plan(embeddings: MatrixLike, labels: Labels, opts: ContrastiveLossOptions | undefined): Plan<LossResult, BackendLossResult> {
  const o = readOptions(opts, OPTION_KEYS.contrastive)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const posMargin = checkFinite(o.posMargin, 'opts.posMargin', 0)
  const negMargin = checkFinite(o.negMargin, 'opts.negMargin', 1)
  const reduction = checkEnum(o.reduction, 'opts.reduction', LOSS_REDUCTIONS, 'mean')
  const common = checkCommon(o)
  const { rows, cols } = x
  // The backends hold every pair's distance and two float64 coefficients: 20 bytes a pair.
  checkResultSize(rows * rows, 20, `embeddings: ${rows} rows, so ${rows} × ${rows} pairs`, 'use smaller batches')
  const target = resolveDevice(common.device, { op: 'contrastiveLoss', macs: rows * rows * cols, bytes: 8 * rows * cols })
  const args = [x.data, rows, cols, y,
    { metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory), posMargin, negMargin, reduction }] as const
  const empty = rows === 0 ? zeroLoss(rows, cols) : undefined
  return {
    target,
    run: (backend) => backend.contrastiveLoss(...args),
    start: (native, token) => native.contrastiveLossAsync(...args, token),
    signal: common.signal,
    shape: lossShape(rows, cols),
    empty,
  }
}

/**
 * The contrastive loss of a labelled batch (Hadsell, Chopra & LeCun 2006; as
 * pytorch-metric-learning's ContrastiveLoss) and its gradient with respect to the embeddings.
 * Every ordered pair (i, j), i ≠ j, counts: a positive pair (same label) costs
 * max(0, d − posMargin), a negative pair max(0, negMargin − d). The positive and the negative
 * losses are reduced each on their own by `reduction` ('mean' by default, 'sum' or
 * 'mean-active') and added. `triplets` and `active` of the result count pairs.
 *
 * Runs off the main thread; see {@link contrastiveLossSync}. The backends hold rows × rows
 * distances, so it is meant for batches, not whole data sets.
 *
 * @param embeddings - `rows × d` embeddings.
 * @param labels - one class id per row.
 * @param opts - `posMargin` (default 0), `negMargin` (default 1), `reduction`, `metric`
 *   (default 'euclidean'), `normalize`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await contrastiveLoss(batch, labels, { negMargin: 0.5 })
 */
export async function contrastiveLoss(embeddings: MatrixLike, labels: Labels, opts?: ContrastiveLossOptions): Promise<LossResult> {
  return execAsync(plan(embeddings, labels, opts))
}

/** Synchronous twin of {@link contrastiveLoss}: same arguments, returns the result directly. */
export function contrastiveLossSync(embeddings: MatrixLike, labels: Labels, opts?: ContrastiveLossOptions): LossResult {
  return execSync(plan(embeddings, labels, opts))
}
