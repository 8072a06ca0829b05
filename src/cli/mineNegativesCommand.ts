/**
 * `tripletkit mine-negatives`: mineHardNegatives on `.npy` files, the corpus read in blocks;
 * with `--shard`, one part holding the shard's candidates for `tripletkit merge`.
 */
import { candidateCount, emptyNegatives, pickRow, readRules, rowSimilarity, tooManyCandidates } from '../hardNegatives'
import { emptyLists, placeLists } from '../neighbours'
import type { Piece } from '../pieceSearch'
import type { Matrix, MergeHardNegativesOptions, Similarity } from '../types'
import { checkShardOutputs, openCorpus, partMeta, planStream, writeResults, type CorpusOptions } from './corpusRun'
import { CliError, readLabels, readMatrix, writeFiles } from './io'
import { fingerprint, partBytes } from './parts'

/** Options of `tripletkit mine-negatives`: mineHardNegatives' own, as flags. */
export interface MineNegativesOptions extends CorpusOptions {
  numNegatives: number
  rangeMin: number
  rangeMax: number
  absoluteMargin?: number
  relativeMargin?: number
  maxScore?: number
  minScore?: number
  sampling: 'top' | 'random'
  seed: number
  similarity: Similarity
  out: string
  scores?: string
}

function ruleOptions(o: MineNegativesOptions): MergeHardNegativesOptions {
  const { numNegatives, rangeMin, rangeMax, absoluteMargin, relativeMargin, maxScore, minScore, sampling, seed, similarity } = o
  return { numNegatives, rangeMin, rangeMax, absoluteMargin, relativeMargin, maxScore, minScore, sampling, seed, similarity }
}

/** `opts.rangeMax` → `--range-max`: the library's messages named as the command's flags. */
function asFlag(message: string): string {
  return message.replace(/^opts\.(\w+)/, (_, name: string) => `--${name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`)
}

/**
 * Each query's positive score, filled in as the blocks pass (the in-memory rule: float64 over
 * the two rows): the queries sorted by their positive, so each block finds its own.
 */
function positiveScorer(q: Matrix, positives: Int32Array, similarity: Similarity) {
  const scores = new Float32Array(q.rows).fill(NaN)
  const order = Int32Array.from({ length: q.rows }, (_, i) => i).sort((a, b) => positives[a] - positives[b])
  const onBlock = (piece: Piece): void => {
    let lo = 0, hi = order.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (positives[order[mid]] < piece.offset) lo = mid + 1
      else hi = mid
    }
    for (let t = lo; t < order.length && positives[order[t]] < piece.offset + piece.rows; t++) {
      const i = order[t]
      scores[i] = rowSimilarity(similarity, q.data, i * q.cols, piece.data, (positives[i] - piece.offset) * q.cols, q.cols)
    }
  }
  return { scores, onBlock }
}

export async function mineNegativesCommand(queries: string, corpusPath: string, positivesPath: string, o: MineNegativesOptions): Promise<void> {
  checkShardOutputs(o, 'scores', o.scores)
  const q = readMatrix(queries)
  const positives = readLabels(positivesPath)
  if (positives.length !== q.rows) throw new CliError(`${positivesPath}: expected ${q.rows} positives (one per query), received ${positives.length}`)
  let rules: ReturnType<typeof readRules>
  try {
    rules = readRules(ruleOptions(o))
  } catch (err) {
    throw new CliError(asFlag((err as Error).message))
  }
  const c = openCorpus(corpusPath, q, o)
  try {
    positives.forEach((p, i) => {
      if (p < 0 || p >= c.rows) throw new CliError(`${positivesPath}: expected corpus rows from 0 to ${c.rows - 1}, received ${p} at ${i}`)
    })
    const k = Math.min(c.end - c.start, candidateCount(rules.rangeMax, c.rows))
    const positive = positiveScorer(q, positives, rules.similarity)
    const tooMany = tooManyCandidates(rules.rangeMax)
    const { run, bar, device } = planStream(q, c, o, 'mine-negatives', k,
      { metric: o.similarity, normalize: false, excludeSelf: false, tooMany: (limit, on) => asFlag(tooMany(limit, on)) }, positive.onBlock)
    try {
      const out = emptyNegatives(q.rows, rules.numNegatives)
      const lists = o.shard === undefined ? undefined : emptyLists(q.rows, k)
      // A whole run picks each group's negatives as it comes (in query order, as the seeded
      // draws need); a shard keeps its candidates for the part.
      await run((start, part) => {
        if (lists !== undefined) return placeLists(lists, start, part)
        for (let r = 0; r < part.rows; r++) {
          const i = start + r
          pickRow(rules, out, i, part.indices, part.distances, r * k, k, positives[i], positive.scores[i])
        }
      })
      if (lists !== undefined) {
        const search = { rangeMax: o.rangeMax, similarity: o.similarity, rules: ruleOptions(o), positives: fingerprint(positives), device }
        return writeFiles([{ path: o.out, bytes: partBytes(partMeta('negatives', o.shard!, c, q, search), lists, { positives, positive_scores: positive.scores }) }])
      }
      writeResults(o.out, out.negatives, o.scores, out.scores, [out.rows, out.numNegatives])
    } finally {
      bar.stop()
    }
  } finally {
    c.corpus.close()
  }
}
