/** verificationMetrics: how well distances tell same-identity pairs from different ones (LFW, FaceNet). */

import type { VerificationResult } from './backend'
import { nativeOptions, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { execAsync, execSync, type Plan } from './run'
import type { MatrixLike, VerificationMetrics, VerificationMetricsOptions } from './types'
import { checkCommon, checkFinite, describe, isNumberList } from './validate'
import { OPTION_KEYS, readOptions } from './options'

/** `same` → one flag per pair (booleans, or the numbers 0 and 1). */
function toFlags(value: unknown, rows: number): Uint8Array {
  if (!isNumberList(value) && !isArrayLikeObject(value)) {
    throw new TypeError(`same: expected an array of booleans (or 0 and 1), received ${describe(value)}`)
  }
  if (value.length !== rows) throw new RangeError(`same: expected ${rows} flags (one per pair), received ${value.length}`)
  const out = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    const v = value[i]
    if (v === true || v === 1) out[i] = 1
    else if (v === false || v === 0) out[i] = 0
    else if (typeof v === 'number') throw new RangeError(`same[${i}]: expected true, false, 1 or 0, received ${v}`)
    else throw new TypeError(`same[${i}]: expected true, false, 1 or 0, received ${describe(v)}`)
  }
  return out
}

/** A plain array-like object (`{ length: 2, 0: true, 1: 0 }`), as `ArrayLike` allows. */
function isArrayLikeObject(value: unknown): value is ArrayLike<unknown> {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false
  const length = (value as { length?: unknown }).length
  return typeof length === 'number' && Number.isSafeInteger(length) && length >= 0
}

function plan(a: MatrixLike, b: MatrixLike, same: ArrayLike<boolean | number>, opts: VerificationMetricsOptions | undefined)
  : Plan<VerificationMetrics, VerificationResult> {
  const o = readOptions(opts, OPTION_KEYS.verification)
  const am = toMatrix(a, 'a')
  const bm = toMatrix(b, 'b')
  if (bm.rows !== am.rows) throw new RangeError(`b: expected ${am.rows} rows (one per row of a), received ${bm.rows}`)
  checkSameCols(am, 'a', bm, 'b')
  const flags = toFlags(same, am.rows)
  // Both kinds of pair present, and 0 ≤ far ≤ 1, are core's rules.
  const far = checkFinite(o.far, 'opts.far', 1e-3)
  const common = checkCommon(o)
  const target = resolveDevice(common.device, { op: 'verificationMetrics', macs: am.rows * am.cols, bytes: 8 * am.rows * am.cols + 8 * am.rows })
  const args = [am.data, bm.data, am.rows, sharedCols(am, bm), flags,
    { far, metric: common.metric, normalize: common.normalize, ...nativeOptions(target, common.maxMemory) }] as const
  return {
    target,
    run: (backend) => backend.verificationMetrics(...args),
    start: (native, token) => native.verificationMetricsAsync(...args, token),
    signal: common.signal,
    // Copy the documented fields only, so that a backend's extra fields never leak into the API.
    shape: (r) => ({ accuracy: r.accuracy, threshold: r.threshold, rocAuc: r.rocAuc, tarAtFar: r.tarAtFar, eer: r.eer }),
  }
}

/**
 * Verification metrics of labelled pairs, as in FaceNet's LFW evaluation: pair i is
 * (a_i, b_i), `same[i]` true when both show the same identity, and "same" is predicted when
 * d(a_i, b_i) ≤ a threshold. `accuracy`: the best accuracy over all thresholds, at `threshold`;
 * `rocAuc`: the area under the ROC curve of the score −d (ties count one half); `tarAtFar`:
 * the largest true-accept rate whose false-accept rate is ≤ `far`; `eer`: the rate where false
 * accepts equal false rejects (interpolated). Needs at least one same and one different pair.
 *
 * Runs off the main thread; see {@link verificationMetricsSync}.
 *
 * @param a - `rows × d` first embeddings of the pairs.
 * @param b - `rows × d` second embeddings of the pairs.
 * @param same - one flag per pair: `true` / `1` for the same identity, `false` / `0` for different ones.
 * @param opts - `far` (default 0.001), `metric` (default 'euclidean'), `normalize`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { accuracy, threshold, rocAuc } = await verificationMetrics(left, right, sameIdentity, { metric: 'cosine' })
 */
export async function verificationMetrics(a: MatrixLike, b: MatrixLike, same: ArrayLike<boolean | number>,
  opts?: VerificationMetricsOptions): Promise<VerificationMetrics> {
  return execAsync(plan(a, b, same, opts))
}

/** Synchronous twin of {@link verificationMetrics}: same arguments, returns the metrics directly. */
export function verificationMetricsSync(a: MatrixLike, b: MatrixLike, same: ArrayLike<boolean | number>,
  opts?: VerificationMetricsOptions): VerificationMetrics {
  return execSync(plan(a, b, same, opts))
}
