/** tripletMarginLoss: the loss of explicit (anchor, positive, negative) rows, as PyTorch's nn.TripletMarginLoss. */

import type { MarginLossResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { DEFAULT_MARGIN } from './mining'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Matrix, MatrixLike, TripletMarginLossOptions, TripletMarginLossResult } from './types'
import { MARGIN_LOSS_REDUCTIONS, checkBoolean, checkCommon, checkEnum, checkFinite } from './validate'
import { OPTION_KEYS, readOptions } from './options'

function plan(anchor: MatrixLike, positive: MatrixLike, negative: MatrixLike, opts: TripletMarginLossOptions | undefined)
  : Plan<TripletMarginLossResult, MarginLossResult> {
  const o = readOptions(opts, OPTION_KEYS.marginLoss)
  const a = toMatrix(anchor, 'anchor')
  const p = toMatrix(positive, 'positive')
  const n = toMatrix(negative, 'negative')
  for (const [m, name] of [[p, 'positive'], [n, 'negative']] as const) {
    if (m.rows !== a.rows) throw new RangeError(`${name}: expected ${a.rows} rows (one per row of anchor), received ${m.rows}`)
    checkSameCols(a, 'anchor', m, name)
  }
  const margin = checkFinite(o.margin, 'opts.margin', DEFAULT_MARGIN)
  const softMargin = checkBoolean(o.softMargin, 'opts.softMargin', false)
  const swap = checkBoolean(o.swap, 'opts.swap', false)
  const reduction = checkEnum(o.reduction, 'opts.reduction', MARGIN_LOSS_REDUCTIONS, 'mean')
  const common = checkCommon(o)
  const rows = a.rows
  const cols = sharedCols(a, p, n)
  const target = resolveDevice(common.device, { op: 'tripletMarginLoss', macs: 3 * rows * cols, bytes: 24 * rows * cols })
  const grad = (data: Float32Array, what: string): Matrix => ({ data: expectLength(data, rows * cols, what), rows, cols })
  const none = (): Matrix => ({ data: new Float32Array(0), rows, cols })
  const empty: TripletMarginLossResult | undefined = rows === 0
    ? { loss: 0, losses: new Float32Array(0), grad: { anchor: none(), positive: none(), negative: none() } }
    : undefined
  const args = [a.data, p.data, n.data, rows, cols,
    { metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory), margin, softMargin, swap, reduction }] as const
  return {
    target,
    run: (backend) => backend.tripletMarginLoss(...args),
    start: (native, token) => native.tripletMarginLossAsync(...args, token),
    signal: common.signal,
    shape: (r) => ({
      loss: r.loss,
      losses: expectLength(r.losses, rows, 'losses'),
      grad: {
        anchor: grad(r.gradAnchor, 'an anchor gradient'),
        positive: grad(r.gradPositive, 'a positive gradient'),
        negative: grad(r.gradNegative, 'a negative gradient'),
      },
    }),
    empty,
  }
}

/**
 * The triplet margin loss of explicit triplets: row i of `anchor`, `positive` and `negative` is
 * one triplet (as PyTorch's nn.TripletMarginLoss, but α defaults to 0.2). Per triplet the hinge
 * max(0, d(a,p) − d(a,n) + α), or softplus(d(a,p) − d(a,n)) with `softMargin`; `swap` uses
 * min(d(a,n), d(p,n)). `reduction` 'mean' (default), 'sum' or 'none' (loss = the sum, each
 * row's gradient that of its own loss). `losses` always holds every triplet's loss.
 * With no rows the loss is 0.
 *
 * Runs off the main thread; see {@link tripletMarginLossSync}.
 *
 * @param anchor - `rows × d` anchors.
 * @param positive - `rows × d` positives.
 * @param negative - `rows × d` negatives.
 * @param opts - `margin`, `softMargin`, `swap`, `reduction`, `metric` (default 'euclidean'),
 *   `normalize`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await tripletMarginLoss(a, p, n, { margin: 1 })
 */
export async function tripletMarginLoss(anchor: MatrixLike, positive: MatrixLike, negative: MatrixLike,
  opts?: TripletMarginLossOptions): Promise<TripletMarginLossResult> {
  return execAsync(plan(anchor, positive, negative, opts))
}

/** Synchronous twin of {@link tripletMarginLoss}: same arguments, returns the result directly. */
export function tripletMarginLossSync(anchor: MatrixLike, positive: MatrixLike, negative: MatrixLike,
  opts?: TripletMarginLossOptions): TripletMarginLossResult {
  return execSync(plan(anchor, positive, negative, opts))
}
