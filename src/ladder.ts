/** ladderLoss: graded relevance as rungs of margins (Zhou et al., AAAI 2020), with its gradients. */

import type { LadderResult } from './backend'
import { nativeDevice, resolveDevice } from './device'
import { checkSameCols, sharedCols, toMatrix } from './matrix'
import { execAsync, execSync, expectLength, type Plan } from './run'
import type { LadderLossOptions, LadderLossResult, Matrix, MatrixLike, Similarity } from './types'
import { DEVICES, checkBoolean, checkEnum, checkFinite, checkResultSize, checkSignal, describe } from './validate'
import { OPTION_KEYS, readOptions } from './options'

const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot']

/** A list of finite numbers. */
function toNumbers(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw new TypeError(`${name}: expected an array of numbers, received ${describe(value)}`)
  return value.map((v: unknown, i) => checkFinite(v, `${name}[${i}]`))
}

function plan(queries: MatrixLike, candidates: MatrixLike, relevance: MatrixLike, opts: LadderLossOptions)
  : Plan<LadderLossResult, LadderResult> {
  const o = readOptions(opts, OPTION_KEYS.ladder, 'opts', true)
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(candidates, 'candidates')
  checkSameCols(q, 'queries', c, 'candidates')
  const r = toMatrix(relevance, 'relevance')
  if (q.rows > 0 && (r.rows !== q.rows || r.cols !== c.rows)) {
    throw new RangeError(`relevance: expected ${q.rows} × ${c.rows} (queries × candidates), received ${r.rows} × ${r.cols}`)
  }
  // The rungs' rules (one or more, descending, a margin and a weight each) are core's.
  const thresholds = toNumbers(o.thresholds, 'opts.thresholds')
  const margins = toNumbers(o.margins, 'opts.margins')
  const weights = o.weights === undefined ? undefined : toNumbers(o.weights, 'opts.weights')
  const hardest = checkBoolean(o.hardest, 'opts.hardest', true)
  const similarity = checkEnum(o.similarity, 'opts.similarity', SIMILARITIES, 'cosine')
  const device = checkEnum(o.device, 'opts.device', DEVICES, 'auto')
  const signal = checkSignal(o.signal)
  const cols = sharedCols(q, c)
  // Every query–candidate similarity and two float64 coefficients: 20 bytes a pair.
  checkResultSize(q.rows * c.rows, 20, `queries, candidates: ${q.rows} × ${c.rows} similarities`, 'use smaller batches')
  const target = resolveDevice(device, { op: 'ladderLoss', macs: q.rows * c.rows * cols, bytes: 8 * (q.rows + c.rows) * cols + 4 * q.rows * c.rows })
  const args = [q.data, c.data, r.data, q.rows, c.rows, cols,
    { thresholds, margins, ...(weights === undefined ? {} : { weights }), hardest, similarity, device: nativeDevice(target) }] as const
  const grad = (data: Float32Array, rows: number, what: string): Matrix => ({ data: expectLength(data, rows * cols, what), rows, cols })
  return {
    target,
    run: (backend) => backend.ladderLoss(...args),
    start: (native, token) => native.ladderLossAsync(...args, token),
    signal,
    shape: (res) => ({
      loss: res.loss,
      grad: { queries: grad(res.gradQueries, q.rows, 'a queries gradient'), candidates: grad(res.gradCandidates, c.rows, 'a candidates gradient') },
    }),
  }
}

/**
 * The ladder loss (Zhou et al., "Ladder Loss for Coherent Visual-Semantic Embedding", AAAI
 * 2020) of queries against candidates with graded relevance (queries × candidates, e.g. in
 * [0, 1]), and its gradients. On rung l, the candidates with relevance ≥ θ_l must be more
 * similar to the query than those below, by α_l: per query the hardest pair
 * [α_l − min_{r ≥ θ_l} s(q, c) + max_{r < θ_l} s(q, c)]₊ (`hardest`, the default) or the mean of
 * [α_l − s(q, c⁺) + s(q, c⁻)]₊ over all such pairs. loss = Σ_l β_l · mean over queries; a query
 * with no candidate on one side of a rung adds 0 for it and still counts in the mean.
 *
 * Runs off the main thread; see {@link ladderLossSync}.
 *
 * @param queries - `rows × d` queries.
 * @param candidates - `m × d` candidates.
 * @param relevance - `rows × m` relevance of every candidate to every query.
 * @param opts - `thresholds` and `margins` (required), `weights`, `hardest`, `similarity`
 *   ('cosine' by default, or 'dot'), `device`, `signal`.
 * @throws TypeError / RangeError (as a rejection) for bad input; Error when `device` cannot run.
 * @example
 * const { loss, grad } = await ladderLoss(images, captions, relevance, { thresholds: [0.9, 0.5], margins: [0.2, 0.1] })
 */
export async function ladderLoss(queries: MatrixLike, candidates: MatrixLike, relevance: MatrixLike,
  opts: LadderLossOptions): Promise<LadderLossResult> {
  return execAsync(plan(queries, candidates, relevance, opts))
}

/** Synchronous twin of {@link ladderLoss}: same arguments, returns the result directly. */
export function ladderLossSync(queries: MatrixLike, candidates: MatrixLike, relevance: MatrixLike,
  opts: LadderLossOptions): LadderLossResult {
  return execSync(plan(queries, candidates, relevance, opts))
}
