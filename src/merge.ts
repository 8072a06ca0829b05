/**
 * Results computed over corpus shards (other calls, processes or machines), merged into exactly
 * what one call over the whole corpus gives. A distance depends only on its two rows (docs/API.md,
 * "Shape invariance"), so the merged lists are the single run's, ties included; hard negatives
 * apply their rank range, filters and sampling after the merge, as the single run does.
 */

import { candidateCount, emptyNegatives, pickRow, readRules, readSearch, rowSimilarity, tooManyCandidates } from './hardNegatives'
import { defaultBatch, planSearch, searchPieces, searchPiecesSync, type Piece } from './pieceSearch'
import { toMatrix } from './matrix'
import { emptyLists, mergeLists, placeLists, type Lists } from './neighbours'
import { OPTION_KEYS, readOptions } from './options'
import type {
  HardNegativeCandidates, HardNegativeCandidatesOptions, HardNegatives, KnnPart, KnnResult, MatrixLike, MergeHardNegativesOptions,
} from './types'
import { checkInteger, describe, toIndices } from './validate'

const MAX_INDEX = 2 ** 31 - 2

/** A part's fields, read once and checked; `name` is how messages call it. */
interface Shard {
  lists: Lists
  offset: number
  rows: number | undefined
  name: string
}

function readKnnPart(value: unknown, i: number, rows: number | undefined): Shard {
  const name = `parts[${i}]`
  if (typeof value !== 'object' || value === null) throw new TypeError(`${name}: expected { result, offset }, received ${describe(value)}`)
  const part = value as { result?: unknown; offset?: unknown; rows?: unknown }
  const result = part.result as Partial<KnnResult> | undefined
  if (typeof result !== 'object' || result === null || !(result.indices instanceof Int32Array) || !(result.distances instanceof Float32Array)) {
    throw new TypeError(`${name}.result: expected a knn result ({ indices: Int32Array, distances: Float32Array, rows, k }), received ${describe(result)}`)
  }
  const r = checkInteger(result.rows, `${name}.result.rows`, 0)
  const k = checkInteger(result.k, `${name}.result.k`, 0)
  if (rows !== undefined && r !== rows) throw new RangeError(`${name}.result.rows: expected ${rows} (the query rows of parts[0]), received ${r}`)
  if (result.indices.length !== r * k || result.distances.length !== r * k) {
    throw new RangeError(`${name}.result: expected ${r * k} indices and distances (rows × k), received ${result.indices.length} and ${result.distances.length}`)
  }
  // Global indices are int32, as every knn result's.
  const offset = checkInteger(part.offset, `${name}.offset`, 0, MAX_INDEX)
  const shardRows = part.rows === undefined ? undefined : checkInteger(part.rows, `${name}.rows`, 0, MAX_INDEX + 1 - offset)
  for (let t = 0; t < result.indices.length; t++) {
    const j = result.indices[t]
    if (j < -1 || (shardRows !== undefined && j >= shardRows)) {
      throw new RangeError(`${name}.result.indices: expected indices from 0 to ${shardRows === undefined ? '…' : shardRows - 1} (or −1), received ${j} at ${t}`)
    }
  }
  return { lists: { indices: result.indices, distances: result.distances, rows: r, k }, offset, rows: shardRows, name }
}

/** Refuses shards whose ranges overlap (those whose size is known). */
function checkDisjoint(shards: Shard[]): void {
  const known = shards.filter((s) => s.rows !== undefined && s.rows > 0).sort((a, b) => a.offset - b.offset)
  for (let t = 1; t < known.length; t++) {
    const prev = known[t - 1]
    if (known[t].offset < prev.offset + prev.rows!) {
      throw new RangeError(`${known[t].name}.offset: expected ${prev.offset + prev.rows!} or more (${prev.name} covers rows ${prev.offset} to ${prev.offset + prev.rows! - 1}), received ${known[t].offset}`)
    }
  }
}

/**
 * Merges knn results computed over corpus shards into the result of one search over their
 * union: each part is a {@link KnnResult} over a shard (indices local to it, −1 for an empty
 * place) and the shard's first global index `offset` (and, optionally, its size `rows`, which
 * lets the merge refuse overlapping shards). The rows of the result are ascending by distance,
 * ties to the lower global index, exactly as one {@link knn} call over the union would give.
 * A part may hold fewer than k neighbours a row (a shard smaller than k).
 *
 * @param parts - the shards' results, in any order.
 * @param opts - `k`: neighbours per query, at most the neighbours all parts hold together.
 * @throws TypeError / RangeError for malformed or overlapping parts, or parts with too few neighbours for k.
 * @example
 * const a = await knn(queries, shard0, { k: 10 })
 * const b = await knn(queries, shard1, { k: 10 })
 * const all = mergeKnn([{ result: a, offset: 0 }, { result: b, offset: shard0.rows }], { k: 10 })
 */
export function mergeKnn(parts: readonly KnnPart[], opts: { k: number }): KnnResult {
  if (!Array.isArray(parts) || parts.length === 0) throw new TypeError(`parts: expected a non-empty array of { result, offset }, received ${describe(parts)}`)
  const o = readOptions(opts, ['k'] as const, 'opts', true)
  const k = checkInteger(o.k, 'opts.k', 1)
  const first = readKnnPart(parts[0], 0, undefined)
  const shards = [first, ...parts.slice(1).map((p, i) => readKnnPart(p, i + 1, first.lists.rows))]
  checkDisjoint(shards)
  // A part holding fewer than k a query must be a shard of fewer rows, all of them listed.
  for (const s of shards) {
    if (s.lists.k < k && (s.rows === undefined || s.lists.k < s.rows)) {
      throw new RangeError(`${s.name}.result.k: expected at least ${s.rows === undefined ? k : Math.min(k, s.rows)} neighbours a query ` +
        `(opts.k${s.rows === undefined ? ', or give the shard\'s rows' : ', or all the shard\'s rows'}), received ${s.lists.k}`)
    }
  }
  const held = shards.reduce((sum, s) => sum + s.lists.k, 0)
  if (k > held) throw new RangeError(`opts.k: expected at most ${held} (the neighbours the parts hold a query), received ${k}`)
  let acc = emptyLists(first.lists.rows, k)
  for (const s of shards) acc = mergeLists(acc, s.lists, s.offset, k)
  for (let t = 0; t < acc.indices.length; t++) {
    if (acc.indices[t] < 0) {
      throw new RangeError(`opts.k: expected at most the neighbours the parts hold for query ${Math.floor(t / k)} (${t % k}), received ${k}`)
    }
  }
  return { indices: acc.indices, distances: acc.distances, rows: acc.rows, k }
}

function prepareCandidates(queries: MatrixLike, shard: MatrixLike, positives: Int32Array | readonly number[], opts: HardNegativeCandidatesOptions) {
  const o = readOptions(opts, OPTION_KEYS.hardNegativeCandidates, 'opts', true)
  const q = toMatrix(queries, 'queries')
  const c = toMatrix(shard, 'shard')
  if (q.rows > 0 && c.rows > 0 && q.cols !== c.cols) throw new RangeError(`shard: expected ${q.cols} columns (the columns of queries), received ${c.cols}`)
  const offset = checkInteger(o.offset, 'opts.offset', 0)
  const total = checkInteger(o.corpusRows, 'opts.corpusRows', offset + c.rows, Number.MAX_SAFE_INTEGER,
    `an integer ≥ ${offset + c.rows} (opts.offset + the shard's rows)`)
  const pos = toIndices(positives, 'positives', total, 'the rows of the whole corpus, opts.corpusRows')
  if (total > MAX_INDEX + 1) throw new RangeError(`opts.corpusRows: expected at most ${MAX_INDEX + 1} (indices are int32), received ${total}`)
  if (pos.length !== q.rows) throw new RangeError(`positives: expected ${q.rows} indices (one per query), received ${pos.length}`)
  const rules = readRules({ rangeMin: o.rangeMin, rangeMax: o.rangeMax, similarity: o.similarity })
  const search = readSearch(o)
  const k = Math.min(c.rows, candidateCount(rules.rangeMax, total))
  const positiveScores = new Float32Array(q.rows).fill(NaN)
  for (let i = 0; i < q.rows; i++) {
    const p = pos[i] - offset
    if (p >= 0 && p < c.rows) positiveScores[i] = rowSimilarity(rules.similarity, q.data, i * q.cols, c.data, p * q.cols, q.cols)
  }
  const result: KnnResult = { indices: new Int32Array(q.rows * k), distances: new Float32Array(q.rows * k), rows: q.rows, k }
  const out: HardNegativeCandidates = { result, offset, rows: c.rows, corpusRows: total, positives: pos, positiveScores, similarity: rules.similarity, rangeMax: rules.rangeMax }
  const s = k === 0 || q.rows === 0 ? undefined
    : planSearch(search.device, rules.similarity, false, undefined, q.rows, total, c.cols, k, false, tooManyCandidates(rules.rangeMax))
  const pieces: Piece[] = [{ data: c.data, rows: c.rows, offset: 0 }]
  const store = (start: number, _end: number, acc: Lists): void => placeLists(result, start, acc)
  return { q, s, out, pieces, store, search, batchSize: search.batchSize ?? defaultBatch(c.rows) }
}

/**
 * The part of {@link mineHardNegatives} one corpus shard computes, for
 * {@link mergeHardNegatives}: every query's rangeMax + 1 most similar rows of the shard
 * (indices local to it), ranked as mineHardNegatives ranks them, and the score of each query's
 * positive where the positive lies in this shard (NaN elsewhere).
 *
 * @param queries - `rows × d` queries, the same for every shard.
 * @param shard - the corpus rows `offset … offset + shard.rows − 1`.
 * @param positives - one global corpus index per query, as for mineHardNegatives.
 * @param opts - `offset` and `corpusRows` (where the shard lies in the whole corpus),
 *   `rangeMin`, `rangeMax` and `similarity` as mineHardNegatives will use them, `device`,
 *   `batchSize`, `signal`, `onProgress`.
 */
export async function hardNegativeCandidates(queries: MatrixLike, shard: MatrixLike, positives: Int32Array | readonly number[],
  opts: HardNegativeCandidatesOptions): Promise<HardNegativeCandidates> {
  const m = prepareCandidates(queries, shard, positives, opts)
  if (m.s !== undefined) await searchPieces(m.s, m.q, m.pieces, m.batchSize, m.search.signal, m.search.onProgress, m.store)
  return m.out
}

/** Synchronous twin of {@link hardNegativeCandidates}. */
export function hardNegativeCandidatesSync(queries: MatrixLike, shard: MatrixLike, positives: Int32Array | readonly number[],
  opts: HardNegativeCandidatesOptions): HardNegativeCandidates {
  const m = prepareCandidates(queries, shard, positives, opts)
  if (m.s !== undefined) searchPiecesSync(m.s, m.q, m.pieces, m.batchSize, m.search.signal, m.search.onProgress, m.store)
  return m.out
}

/**
 * Merges the candidates of corpus shards ({@link hardNegativeCandidates}, one per shard, the
 * shards covering the corpus from row 0 without gaps or overlaps) and then applies
 * mineHardNegatives' rank range, filters and sampling, so the result, seeded 'random' sampling
 * included, equals one {@link mineHardNegatives} call over the whole corpus.
 *
 * @param parts - one per shard, in any order.
 * @param opts - mineHardNegatives' options but the search's own (`numNegatives`, `rangeMin`,
 *   `rangeMax`, `absoluteMargin`, `relativeMargin`, `maxScore`, `minScore`, `sampling`, `seed`,
 *   `similarity`); `rangeMax` and `similarity` must be those the parts were made with.
 * @throws TypeError / RangeError for malformed parts, parts of other queries, positives or
 *   similarity, too few candidates for rangeMax, or shards that overlap or leave a gap.
 */
export function mergeHardNegatives(parts: readonly HardNegativeCandidates[], opts?: MergeHardNegativesOptions): HardNegatives {
  if (!Array.isArray(parts) || parts.length === 0) throw new TypeError(`parts: expected a non-empty array of hardNegativeCandidates results, received ${describe(parts)}`)
  const o = readOptions(opts, OPTION_KEYS.mergeHardNegatives)
  const rules = readRules(o)
  const read = parts.map((p, i) => {
    const shard = readKnnPart(p, i, undefined)
    const c = p as Partial<HardNegativeCandidates>
    if (typeof c.rows !== 'number') throw new TypeError(`parts[${i}].rows: expected the shard's row count, received ${describe(c.rows)}`)
    if (!(c.positives instanceof Int32Array) || !(c.positiveScores instanceof Float32Array) || c.positives.length !== shard.lists.rows || c.positiveScores.length !== shard.lists.rows) {
      throw new TypeError(`parts[${i}]: expected positives (Int32Array) and positiveScores (Float32Array), one per query row`)
    }
    if (c.similarity !== rules.similarity) throw new RangeError(`parts[${i}].similarity: expected '${rules.similarity}' (opts.similarity), received '${String(c.similarity)}'`)
    if (c.positives.some((p) => p < 0 || p >= Number(parts[0].corpusRows))) {
      throw new RangeError(`parts[${i}].positives: expected corpus rows from 0 to ${Number(parts[0].corpusRows) - 1}`)
    }
    if (c.corpusRows !== parts[0].corpusRows) throw new RangeError(`parts[${i}].corpusRows: expected ${parts[0].corpusRows} (that of parts[0]), received ${String(c.corpusRows)}`)
    if (c.rangeMax !== rules.rangeMax) throw new RangeError(`parts[${i}].rangeMax: expected ${rules.rangeMax} (opts.rangeMax), received ${String(c.rangeMax)}`)
    return { shard, positives: c.positives, scores: c.positiveScores }
  })
  const first = read[0]
  for (const [i, r] of read.entries()) {
    if (r.shard.lists.rows !== first.shard.lists.rows || r.positives.some((p, t) => p !== first.positives[t])) {
      throw new RangeError(`parts[${i}].positives: expected the queries and positives of parts[0], received others`)
    }
  }
  const shards = read.map((r) => r.shard).sort((a, b) => a.offset - b.offset || a.rows! - b.rows!)
  let end = 0
  for (const s of shards) {
    if (s.offset !== end) throw new RangeError(`${s.name}.offset: expected ${end} (the shards must cover the corpus from row 0 without gaps or overlaps), received ${s.offset}`)
    end += s.rows!
  }
  if (end !== parts[0].corpusRows) throw new RangeError(`parts: expected shards covering the corpus's ${parts[0].corpusRows} rows, received shards covering rows 0 to ${end - 1}`)
  const rows = first.shard.lists.rows
  const k = candidateCount(rules.rangeMax, end)
  let acc = emptyLists(rows, k)
  for (const s of shards) {
    if (s.lists.k < Math.min(s.rows!, k)) throw new RangeError(`${s.name}.result.k: expected at least ${Math.min(s.rows!, k)} candidates a query, received ${s.lists.k}`)
    acc = mergeLists(acc, s.lists, s.offset, k)
  }
  const out = emptyNegatives(rows, rules.numNegatives)
  for (let i = 0; i < rows; i++) {
    const p = first.positives[i]
    const holder = read.find((r) => p >= r.shard.offset && p < r.shard.offset + r.shard.rows!)!
    pickRow(rules, out, i, acc.indices, acc.distances, i * k, k, p, holder.scores[i])
  }
  return out
}
