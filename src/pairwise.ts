/** pairwiseDistances: the full distance matrix between two sets of embeddings. */

import { nativeOptions, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { Matrix, MatrixLike, PairwiseDistancesOptions } from './types'
import { checkCommon, checkResultSize, describe } from './validate'
import { OPTION_KEYS, readOptions } from './options'

function plan(a: MatrixLike, b: MatrixLike | null | undefined, opts: PairwiseDistancesOptions | undefined): Plan<Matrix, Float32Array> {
  const snapshot = readOptions(opts, OPTION_KEYS.pairwise)
  const am = toMatrix(a, 'a')
  let bm: Matrix | null = null
  if (b !== undefined && b !== null) {
    if (typeof b === 'object' && !Array.isArray(b) && !('data' in b) && opts === undefined) {
      // pairwiseDistances(a, { metric }) is an easy slip: say how to write it.
      throw new TypeError(`b: expected a Matrix or an array of rows, received ${describe(b)} without data ` +
        `(to compare a with itself, write pairwiseDistances(a, undefined, opts))`)
    }
    bm = toMatrix(b, 'b')
    checkSameCols(am, 'a', bm, 'b')
    // The same matrix twice is a self-distance matrix: run it as one, so that its diagonal is exact.
    if (b === a || (bm.data === am.data && bm.rows === am.rows && bm.cols === am.cols)) bm = null
  }
  const o = checkCommon(snapshot)
  const rows = am.rows
  const cols = bm === null ? rows : bm.rows
  const dim = bm === null ? am.cols : sharedCols(am, bm)
  const target = resolveDevice(o.device, { op: 'pairwiseDistances', macs: rows * cols * dim, bytes: 4 * (rows + cols) * dim + 4 * rows * cols })
  checkResultSize(rows * cols, 4, `a, b: a ${rows} × ${cols} distance matrix`, 'knn and retrievalMetrics never build the full matrix')
  const empty: Matrix | undefined = rows === 0 || cols === 0 ? { data: new Float32Array(0), rows, cols } : undefined
  const args = [am.data, rows, bm === null ? null : bm.data, cols, dim,
    { metric: o.metric, normalize: o.normalize, ...nativeOptions(target, o.maxMemory) }] as const
  return {
    target,
    run: (backend) => backend.pairwiseDistances(...args),
    start: (native, token) => native.pairwiseDistancesAsync(...args, token),
    signal: o.signal,
    shape: (data) => ({ data: expectLength(data, rows * cols, 'a distance matrix'), rows, cols }),
    empty,
  }
}

/**
 * Distances between every row of `a` and every row of `b`: result[i, j] = dist(a_i, b_j), an
 * `a.rows × b.rows` matrix. With `b` omitted, `a` against itself (`rows × rows`), whose diagonal
 * is exactly 0 for euclidean, sqeuclidean and cosine (except a zero row under cosine: 1).
 * No distance is negative except under `dot` (−a·b).
 *
 * Runs off the main thread; see {@link pairwiseDistancesSync} for the synchronous twin.
 * Inputs are read while the work runs: do not write to their buffers until the promise settles.
 *
 * @param a - `rows × d` embeddings.
 * @param b - `m × d` embeddings; omitted (or `null`): `a` itself.
 * @param opts - `metric` (default 'euclidean'), `normalize`, `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const d = await pairwiseDistances([[0, 0], [3, 4]])   // d.data: [0, 5, 5, 0]
 */
export async function pairwiseDistances(a: MatrixLike, b?: MatrixLike | null, opts?: PairwiseDistancesOptions): Promise<Matrix> {
  return execAsync(plan(a, b, opts))
}

/** Synchronous twin of {@link pairwiseDistances}: same arguments, returns the matrix directly. */
export function pairwiseDistancesSync(a: MatrixLike, b?: MatrixLike | null, opts?: PairwiseDistancesOptions): Matrix {
  return execSync(plan(a, b, opts))
}
