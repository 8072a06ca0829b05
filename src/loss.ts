/** tripletLoss: the triplet loss of a labelled batch, with its gradient, over mined or given triplets. */

import type { LossOptions as BackendLossOptions, LossResult as BackendLossResult, TripletsResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { toMatrix } from './matrix'
import { checkMaxTriplets, checkReference, DEFAULT_MARGIN, mostTriplets, referenceArgs } from './mining'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Labels, LossResult, MatrixLike, Strategy, TripletLossOptions } from './types'
import {
  LOSS_REDUCTIONS, STRATEGIES, checkBoolean, checkCommon, checkEnum, checkFinite, checkInteger,
  checkStrategy, describe, toIndexArray, toLabels,
} from './validate'
import { OPTION_KEYS, readOptions } from './options'
import { checkSample } from './sample'

/**
 * A caller's triplets as three index arrays. Their rules (one length, every index a row, each
 * triplet valid) are core's; `length`, when given, must be the arrays' length.
 */
function toTriplets(value: unknown): TripletsResult {
  const t = value as { anchor?: unknown; positive?: unknown; negative?: unknown; length?: unknown }
  const anchor = toIndexArray(t.anchor, 'opts.mining.anchor')
  const positive = toIndexArray(t.positive, 'opts.mining.positive')
  const negative = toIndexArray(t.negative, 'opts.mining.negative')
  const n = anchor.length
  if (t.length !== undefined && positive.length === n && negative.length === n) {
    checkInteger(t.length, 'opts.mining.length', n, n, `${n} (the length of the index arrays)`)
  }
  return { anchor, positive, negative }
}

function plan(embeddings: MatrixLike, labels: Labels, opts: TripletLossOptions | undefined): Plan<LossResult, BackendLossResult> {
  const o = readOptions(opts, OPTION_KEYS.loss)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  const reference = checkReference(o, x)
  let strategy: Strategy | undefined
  let triplets: TripletsResult | undefined
  if (o.mining === undefined || typeof o.mining === 'string') {
    strategy = checkStrategy(o.mining, 'opts.mining', 'batch-hard')
  } else if (typeof o.mining === 'object' && o.mining !== null && !Array.isArray(o.mining)) {
    triplets = toTriplets(o.mining)
  } else {
    throw new TypeError(`opts.mining: expected one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')} or a Triplets object ` +
      `({ anchor, positive, negative }), received ${describe(o.mining)}`)
  }
  const margin = checkFinite(o.margin, 'opts.margin', DEFAULT_MARGIN)
  const softMargin = checkBoolean(o.softMargin, 'opts.softMargin', false)
  const swap = checkBoolean(o.swap, 'opts.swap', false)
  const reduction = checkEnum(o.reduction, 'opts.reduction', LOSS_REDUCTIONS, 'mean')
  const sample = checkSample(o.sample, 'opts.sample', strategy, reference !== undefined)
  const maxTriplets = checkMaxTriplets(o.maxTriplets, 'opts.maxTriplets', strategy !== undefined && strategy !== 'batch-hard' && sample === undefined,
    strategy === undefined ? 0 : mostTriplets(strategy, x.rows, reference?.x.rows ?? x.rows))
  const common = checkCommon(o)
  const { rows, cols } = x
  const target = resolveDevice(common.device, strategy === undefined ? undefined
    : { op: 'tripletLoss', macs: rows * (reference?.x.rows ?? rows) * cols, bytes: 4 * (2 * rows + (reference?.x.rows ?? 0)) * cols })
  const backendOpts: BackendLossOptions = {
    metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory), margin, softMargin, swap, reduction, maxTriplets,
    ...(strategy !== undefined ? { strategy } : {}),
    ...(sample === undefined ? {} : { sample }),
  }
  // No rows to mine, or no given triplet: API.md fixes the answer (loss 0, zero gradient).
  // Given triplets that are not all empty go to the backend, whose rules see them.
  const none = triplets !== undefined && [triplets.anchor, triplets.positive, triplets.negative].every((v) => v.length === 0)
  const empty = (rows === 0 && triplets === undefined) || none ? zeroLoss(rows, cols) : undefined
  const args = [x.data, rows, cols, y, backendOpts, triplets, ...referenceArgs(reference)] as const
  return {
    target,
    run: (backend) => backend.tripletLoss(...args),
    start: (native, token) => native.tripletLossAsync(...args, token),
    signal: common.signal,
    shape: lossShape(rows, cols),
    empty,
  }
}

/** Internal: a backend's LossResult → the public {@link LossResult} of `rows × cols` embeddings. */
export function lossShape(rows: number, cols: number): (r: BackendLossResult) => LossResult {
  return (r) => ({
    loss: r.loss,
    grad: { data: expectLength(r.grad, rows * cols, 'a gradient'), rows, cols },
    triplets: r.triplets,
    active: r.active,
  })
}

/** Internal: the LossResult of no term at all: loss 0, a zero gradient. */
export function zeroLoss(rows: number, cols: number): LossResult {
  return { loss: 0, grad: { data: new Float32Array(rows * cols), rows, cols }, triplets: 0, active: 0 }
}

/**
 * The triplet loss of a labelled batch and its gradient with respect to the embeddings.
 * Per triplet: the hinge max(0, d(a,p) − d(a,n) + α), or with `softMargin`
 * softplus(d(a,p) − d(a,n)); `swap` uses min(d(a,n), d(p,n)) as the negative distance.
 * Reduced by `reduction`: 'mean' (default), 'sum' or 'mean-active' (mean over losses > 0).
 * With no triplet (or no active one under 'mean-active') the loss is 0 and the gradient zeros.
 *
 * Runs off the main thread; see {@link tripletLossSync}.
 *
 * @param embeddings - `rows × d` embeddings.
 * @param labels - one class id per row.
 * @param opts - `mining` (a strategy, default 'batch-hard', or a Triplets object used as is),
 *   `margin` (α, default 0.2), `softMargin`, `swap`, `reduction`, `metric` (default
 *   'euclidean'), `normalize`, `maxTriplets`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input, including invalid given
 *   triplets; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await tripletLoss(batch, labels, { mining: 'batch-hard', margin: 0.2 })
 */
export async function tripletLoss(embeddings: MatrixLike, labels: Labels, opts?: TripletLossOptions): Promise<LossResult> {
  return execAsync(plan(embeddings, labels, opts))
}

/** Synchronous twin of {@link tripletLoss}: same arguments, returns the result directly. */
export function tripletLossSync(embeddings: MatrixLike, labels: Labels, opts?: TripletLossOptions): LossResult {
  return execSync(plan(embeddings, labels, opts))
}
