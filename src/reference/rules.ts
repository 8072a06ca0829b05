/**
 * The argument rules the reference device checks itself, with the core's wording and code
 * (crates/core/src/rules.rs), so that both devices refuse the same backend calls the same way.
 * The public functions check first, with messages that name the public arguments.
 */
import type { TripletsResult } from '../backend'
import { invalidArgument } from './common'

/** One label per row. */
export function checkLabels(name: string, labels: Int32Array, rows: number): void {
  if (labels.length !== rows) throw invalidArgument(`${name}: expected ${rows} labels (one per row), received ${labels.length}`)
}

/** A finite margin (or scale). */
export function checkMargin(margin: number, name = 'margin'): void {
  if (!Number.isFinite(margin)) throw invalidArgument(`${name}: expected a finite number, received ${margin}`)
}

/** knn's `opts.k`: 1 ≤ k ≤ corpus rows, or corpus rows − 1 when a query's own row is excluded; a corpus with no row to search is refused first. */
export function checkK(k: number, corpusRows: number, excludeSelf: boolean): void {
  const max = Math.max(0, corpusRows - (excludeSelf ? 1 : 0))
  if (max === 0) {
    throw invalidArgument(`corpus: expected at least ${excludeSelf ? 2 : 1} rows to find neighbours in` +
      `${excludeSelf ? ' with excludeSelf' : ''}, received ${corpusRows}`)
  }
  if (!(Number.isInteger(k) && k >= 1 && k <= max)) {
    const why = excludeSelf ? 'corpus rows − 1, because of excludeSelf' : 'the corpus rows'
    throw invalidArgument(`opts.k: expected an integer from 1 to ${max} (${why}), received ${k}`)
  }
}

/**
 * Given triplets (tripletLoss's `opts.mining`): three index arrays of one length, every index
 * a row, and every triplet valid (label[a] = label[p], label[n] ≠ label[a], and a ≠ p unless
 * positives and negatives index `candidates`, the labels of the reference set).
 */
export function checkTriplets(t: TripletsResult, labels: Int32Array, candidates?: Int32Array): void {
  const n = t.anchor.length
  for (const name of ['positive', 'negative'] as const) {
    if (t[name].length !== n) {
      throw invalidArgument(`opts.mining.${name}: expected ${n} indices (the length of opts.mining.anchor), received ${t[name].length}`)
    }
  }
  const cand = candidates ?? labels
  const ofCandidates = candidates === undefined ? 'the rows of embeddings' : 'the rows of opts.reference'
  for (const name of ['anchor', 'positive', 'negative'] as const) {
    const arr = t[name]
    const [rows, what] = name === 'anchor' ? [labels.length, 'the rows of embeddings'] : [cand.length, ofCandidates]
    for (let i = 0; i < n; i++) {
      if (!(arr[i] >= 0 && arr[i] < rows)) {
        const expected = rows > 0 ? `an index from 0 to ${rows - 1} (${what}: ${rows})` : `no index at all (${what}: 0)`
        throw invalidArgument(`opts.mining.${name}[${i}]: expected ${expected}, received ${arr[i]}`)
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const a = t.anchor[i], p = t.positive[i], ng = t.negative[i]
    const at = `opts.mining: triplet ${i} (anchor ${a}, positive ${p}, negative ${ng})`
    if (a === p && candidates === undefined) throw invalidArgument(`${at}: expected anchor ≠ positive, received the same row twice`)
    if (cand[p] !== labels[a]) {
      throw invalidArgument(`${at}: expected the positive to have the anchor's label ${labels[a]}, received label ${cand[p]}`)
    }
    if (cand[ng] === labels[a]) {
      throw invalidArgument(`${at}: expected the negative to have a label other than the anchor's ${labels[a]}, received the same label`)
    }
  }
}
