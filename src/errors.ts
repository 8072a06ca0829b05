/**
 * Errors in one place: the AbortError that every async function rejects with, and the mapping
 * of backend failures onto the error classes that API.md promises.
 */

/**
 * The error an aborted call rejects (or a `…Sync` call throws) with: a DOMException named
 * 'AbortError', as `fetch` and Node's own APIs use. The signal's `reason` is kept as `cause`.
 */
export function abortError(signal?: AbortSignal): DOMException {
  const reason: unknown = signal?.reason
  return new DOMException('The operation was aborted', reason === undefined ? { name: 'AbortError' } : { name: 'AbortError', cause: reason })
}

/** Prefix of the backend error for a set strategy that would produce more than `maxTriplets`. */
export const TOO_MANY_TRIPLETS = 'TooManyTriplets: '

/** The RangeError for a `TooManyTriplets: …` backend error, naming the option that set the limit. */
function tooManyTriplets(message: string, cause: unknown): RangeError {
  return new RangeError(`opts.maxTriplets: ${message.slice(TOO_MANY_TRIPLETS.length)}`, { cause })
}

/**
 * Maps an error thrown by a backend (native addon or reference) to the public contract:
 * `TooManyTriplets: …` is a bad size for this input, so it becomes a RangeError naming
 * opts.maxTriplets (the original as `cause`); anything else is passed through, and a thrown non-Error
 * value is wrapped in an Error so that callers can always read `.message`.
 */
export function mapBackendError(err: unknown): Error {
  if (err instanceof Error) {
    if (err.message.startsWith(TOO_MANY_TRIPLETS)) return tooManyTriplets(err.message, err)
    return err
  }
  if (typeof err === 'string' && err.startsWith(TOO_MANY_TRIPLETS)) return tooManyTriplets(err, err)
  return new Error(`tripletkit backend failed: ${String(err)}`, { cause: err })
}
