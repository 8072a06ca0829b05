/**
 * Per-triplet pieces shared by `tripletLoss` and `tripletMarginLoss` (docs/SEMANTICS.md "Losses"):
 * the hinge max(0, x + α) of FaceNet (Schroff et al. 2015) or the soft margin softplus(x) of
 * Hermans et al. 2017, where x = d(a,p) − d(a,n), and their derivatives in x.
 */

import { codedError, ERROR_CODES, type ErrorCode } from '../errors'

/** log(1 + e^x) without overflow: x + log1p(e^−x) for x > 0. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))
}

/** d softplus / dx = 1 / (1 + e^−x), evaluated on the side where exp cannot overflow. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x))
  const e = Math.exp(x)
  return e / (1 + e)
}

/** The loss of one triplet and its derivative with respect to x = d(a,p) − d(a,n). */
export function tripletTerm(x: number, margin: number, softMargin: boolean): { loss: number; slope: number } {
  if (softMargin) return { loss: softplus(x), slope: sigmoid(x) }
  const loss = Math.max(0, x + margin)
  // At the kink (loss exactly 0) the gradient is 0: only triplets with loss > 0 contribute.
  return { loss, slope: loss > 0 ? 1 : 0 }
}

/** α when the caller gives none (API.md). */
export const DEFAULT_MARGIN = 0.2
/** The most triplets any op returns (int32 indices). */
export const MAX_TRIPLETS = 2 ** 31 - 1

/** An error with one of the codes every backend uses (src/errors.ts), as the addon throws them. */
export function backendError(code: ErrorCode, message: string): Error & { code: ErrorCode } {
  return codedError(Error, code, message)
}

/** An argument the reference refuses: the same code as the core's rules. */
export function invalidArgument(message: string): Error {
  return backendError(ERROR_CODES.invalidArgument, message)
}

const F32_MAX = 3.4028234663852886e38

/**
 * Float64 gradients rounded to float32, saturating at ±F32_MAX: a gradient like 1/‖x‖ for a
 * subnormal row is finite in float64 but past float32's range, and gradients must stay finite.
 */
export function gradToFloat32(g: Float64Array): Float32Array {
  return Float32Array.from(g, (v) => Math.min(F32_MAX, Math.max(-F32_MAX, v)))
}
