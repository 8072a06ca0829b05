/**
 * Errors in one place: the AbortError that every async function rejects with, the error codes
 * that backends attach, and the mapping of backend failures onto the error classes that API.md
 * promises.
 */

/** The codes a backend error carries as `err.code`, the same on every device. */
export const ERROR_CODES = {
  invalidArgument: 'ERR_TRIPLETKIT_INVALID_ARGUMENT',
  tooManyTriplets: 'ERR_TRIPLETKIT_TOO_MANY_TRIPLETS',
  cancelled: 'ERR_TRIPLETKIT_CANCELLED',
  deviceUnavailable: 'ERR_TRIPLETKIT_DEVICE_UNAVAILABLE',
  deviceFailed: 'ERR_TRIPLETKIT_DEVICE_FAILED',
  outOfMemory: 'ERR_TRIPLETKIT_OUT_OF_MEMORY',
  internal: 'ERR_TRIPLETKIT_INTERNAL',
} as const

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

/** An error of class `kind` with a `code` property, as the native addon throws them. */
export function codedError<E extends Error>(kind: new (message: string, options?: ErrorOptions) => E, code: ErrorCode,
  message: string, cause?: unknown): E & { code: ErrorCode } {
  const err = new kind(message, cause === undefined ? undefined : { cause })
  return Object.assign(err, { code })
}

/**
 * The error an aborted call rejects (or a `…Sync` call throws) with: a DOMException named
 * 'AbortError', as `fetch` and Node's own APIs use. The signal's `reason` is kept as `cause`.
 */
export function abortError(signal?: AbortSignal): DOMException {
  const reason: unknown = signal?.reason
  return new DOMException('The operation was aborted', reason === undefined ? { name: 'AbortError' } : { name: 'AbortError', cause: reason })
}

/**
 * Maps an error thrown by a backend (native addon or reference) to the public contract, by its
 * code: too many triplets is a bad size for this input, so a RangeError naming opts.maxTriplets;
 * an argument the core refused, or memory the device cannot give, is a RangeError too. The code
 * stays on the mapped error and the original is its `cause`. Anything else passes through, and a
 * thrown non-Error value is wrapped in an Error so that callers can always read `.message`.
 */
export function mapBackendError(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(`tripletkit backend failed: ${String(err)}`, { cause: err })
  const code = (err as { code?: unknown }).code
  switch (code) {
    case ERROR_CODES.tooManyTriplets:
      return codedError(RangeError, code, `opts.maxTriplets: ${err.message}`, err)
    case ERROR_CODES.invalidArgument:
    case ERROR_CODES.outOfMemory:
      return codedError(RangeError, code, err.message, err)
    default:
      return err
  }
}
