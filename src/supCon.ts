/** supConLoss: the supervised contrastive loss of a labelled batch, with its gradient. */

import type { SupConResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { toMatrix } from './matrix'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Labels, MatrixLike, SupConLossOptions, SupConLossResult } from './types'
import { DEVICES, checkEnum, checkFinite, checkInteger, checkResultSize, checkSignal, toLabels } from './validate'
import { OPTION_KEYS, readOptions } from './options'

function plan(embeddings: MatrixLike, labels: Labels, opts: SupConLossOptions | undefined): Plan<SupConLossResult, SupConResult> {
  const o = readOptions(opts, OPTION_KEYS.supCon)
  const x = toMatrix(embeddings, 'embeddings')
  const y = toLabels(labels, 'labels', x.rows, 'embeddings')
  // τ > 0 is core's rule.
  const temperature = checkFinite(o.temperature, 'opts.temperature', 0.1)
  const device = checkEnum(o.device, 'opts.device', DEVICES, 'auto')
  const signal = checkSignal(o.signal)
  const maxMemory = o.maxMemory === undefined ? undefined : checkInteger(o.maxMemory, 'opts.maxMemory', 1)
  const { rows, cols } = x
  // The backends hold every pair's similarity and a float64 coefficient: 12 bytes a pair.
  checkResultSize(rows * rows, 12, `embeddings: ${rows} rows, so ${rows} × ${rows} pairs`, 'use smaller batches')
  const target = resolveDevice(device, { op: 'supConLoss', macs: rows * rows * cols, bytes: 8 * rows * cols })
  const args = [x.data, rows, cols, y, { temperature, ...nativeOptions(target, maxMemory) }] as const
  return {
    target,
    run: (backend) => backend.supConLoss(...args),
    start: (native, token) => native.supConLossAsync(...args, token),
    signal,
    shape: (r) => ({ loss: r.loss, grad: { data: expectLength(r.grad, rows * cols, 'a gradient'), rows, cols }, anchors: r.anchors }),
  }
}

/**
 * The supervised contrastive loss of a labelled batch (Khosla et al. 2020; as
 * pytorch-metric-learning's SupConLoss with its defaults) and its gradient with respect to the
 * embeddings. With s_ij = cos(x_i, x_j) / τ over ordered pairs i ≠ j, P(i) the other rows of
 * i's class and A(i) every other row, anchor i loses
 * l_i = −(1/|P(i)|) Σ_{p∈P(i)} [s_ip − log Σ_{a∈A(i)} exp(s_ia)]. Anchors with no positive are
 * skipped; the loss is the mean of l_i over the anchors whose l_i > 0 (`anchors` counts them),
 * and 0 when there is none, or when the batch has no positive or no negative pair. A zero
 * vector has cosine 0 with everything.
 *
 * Runs off the main thread; see {@link supConLossSync}. The backends hold rows × rows
 * similarities, so it is meant for batches, not whole data sets.
 *
 * @param embeddings - `rows × d` embeddings.
 * @param labels - one class id per row.
 * @param opts - `temperature` (τ, default 0.1), `device`, `signal`, `maxMemory`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await supConLoss(embeddings, labels, { temperature: 0.07 })
 */
export async function supConLoss(embeddings: MatrixLike, labels: Labels, opts?: SupConLossOptions): Promise<SupConLossResult> {
  return execAsync(plan(embeddings, labels, opts))
}

/** Synchronous twin of {@link supConLoss}: same arguments, returns the result directly. */
export function supConLossSync(embeddings: MatrixLike, labels: Labels, opts?: SupConLossOptions): SupConLossResult {
  return execSync(plan(embeddings, labels, opts))
}
