/** multipleNegativesRankingLoss: the in-batch softmax ranking loss of SBERT, with its gradients. */

import type { RankingResult } from './backend'
import { nativeDevice, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Matrix, MatrixLike, MultipleNegativesRankingLossOptions, MultipleNegativesRankingLossResult, Similarity } from './types'
import { DEVICES, checkBoolean, checkEnum, checkFinite, checkResultSize, checkSignal } from './validate'
import { OPTION_KEYS, readOptions } from './options'

const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot']

function plan(anchors: MatrixLike, positives: MatrixLike, opts: MultipleNegativesRankingLossOptions | undefined)
  : Plan<MultipleNegativesRankingLossResult, RankingResult> {
  const o = readOptions(opts, OPTION_KEYS.ranking)
  const a = toMatrix(anchors, 'anchors')
  const p = toMatrix(positives, 'positives')
  if (p.rows !== a.rows) throw new RangeError(`positives: expected ${a.rows} rows (one per row of anchors), received ${p.rows}`)
  checkSameCols(a, 'anchors', p, 'positives')
  const n = o.negatives === undefined ? null : toMatrix(o.negatives, 'opts.negatives')
  if (n !== null) checkSameCols(a, 'anchors', n, 'opts.negatives')
  const scale = checkFinite(o.scale, 'opts.scale', 20)
  const similarity = checkEnum(o.similarity, 'opts.similarity', SIMILARITIES, 'cosine')
  const symmetric = checkBoolean(o.symmetric, 'opts.symmetric', false)
  const device = checkEnum(o.device, 'opts.device', DEVICES, 'auto')
  const signal = checkSignal(o.signal)
  const rows = a.rows
  const k = n?.rows ?? 0
  const cols = n === null ? sharedCols(a, p) : sharedCols(a, p, n)
  checkResultSize(rows * (rows + k), 20, `anchors, opts.negatives: ${rows} × ${rows + k} similarities`, 'use smaller batches')
  const target = resolveDevice(device, { op: 'multipleNegativesRankingLoss', macs: rows * (rows + k) * cols, bytes: 8 * (2 * rows + k) * cols })
  const args = [a.data, p.data, rows, n === null ? null : n.data, k, cols,
    { scale, similarity, symmetric, device: nativeDevice(target) }] as const
  const grad = (data: Float32Array | undefined, r: number, what: string): Matrix =>
    ({ data: expectLength(data ?? new Float32Array(0), r * cols, what), rows: r, cols })
  const empty: MultipleNegativesRankingLossResult | undefined = rows === 0
    ? {
        loss: 0,
        grad: {
          anchors: grad(new Float32Array(0), 0, 'anchors'),
          positives: grad(new Float32Array(0), 0, 'positives'),
          ...(n === null ? {} : { negatives: grad(new Float32Array(k * cols), k, 'negatives') }),
        },
      }
    : undefined
  return {
    target,
    run: (backend) => backend.multipleNegativesRankingLoss(...args),
    start: (native, token) => native.multipleNegativesRankingLossAsync(...args, token),
    signal,
    shape: (r) => ({
      loss: r.loss,
      grad: {
        anchors: grad(r.gradAnchors, rows, 'an anchors gradient'),
        positives: grad(r.gradPositives, rows, 'a positives gradient'),
        ...(n === null ? {} : { negatives: grad(r.gradNegatives, k, 'a negatives gradient') }),
      },
    }),
    empty,
  }
}

/**
 * The multiple negatives ranking loss (Henderson et al. 2017; as sentence-transformers'
 * MultipleNegativesRankingLoss) of row-aligned anchors and positives, and its gradients. The
 * candidates are c = [positives; negatives]; with s_ij = scale · sim(anchor_i, c_j), the loss is
 * mean_i −log softmax_j(s_ij)[j = i]: every other positive in the batch, and every extra
 * negative, is a negative for anchor i. `symmetric` also ranks the anchors for each positive,
 * mean_i −log softmax_j(scale · sim(positive_i, anchor_j))[j = i], and averages the two.
 *
 * Runs off the main thread; see {@link multipleNegativesRankingLossSync}.
 *
 * @param anchors - `rows × d` anchors (e.g. queries).
 * @param positives - `rows × d` positives, row i the match of anchor i.
 * @param opts - `negatives` (extra hard negatives, any rows), `scale` (default 20), `similarity`
 *   ('cosine' by default, or 'dot'), `symmetric`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await multipleNegativesRankingLoss(queries, passages, { negatives: hard })
 */
export async function multipleNegativesRankingLoss(anchors: MatrixLike, positives: MatrixLike,
  opts?: MultipleNegativesRankingLossOptions): Promise<MultipleNegativesRankingLossResult> {
  return execAsync(plan(anchors, positives, opts))
}

/** Synchronous twin of {@link multipleNegativesRankingLoss}: same arguments, returns the result directly. */
export function multipleNegativesRankingLossSync(anchors: MatrixLike, positives: MatrixLike,
  opts?: MultipleNegativesRankingLossOptions): MultipleNegativesRankingLossResult {
  return execSync(plan(anchors, positives, opts))
}
