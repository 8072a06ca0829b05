/**
 * Neighbour lists computed in pieces, merged: each piece searched a slice of the corpus, and
 * each of its rows is sorted by (distance, index). Because a distance does not depend on what
 * else was in the call (docs/SEMANTICS.md, "Shape invariance"), the k first of the merged
 * lists are exactly what one search over the whole corpus returns, ties included.
 */

/** `rows` lists of `k` neighbours, row-major; index −1 (distance NaN) marks an empty place, always at a row's end. */
export interface Lists {
  indices: Int32Array
  distances: Float32Array
  rows: number
  k: number
}

/** Copies `part` (rows from `start` on, as wide as `into`) into `into`. */
export function placeLists(into: { indices: Int32Array; distances: Float32Array }, start: number, part: Lists): void {
  into.indices.set(part.indices, start * part.k)
  into.distances.set(part.distances, start * part.k)
}

/** Lists of `rows × k` empty places. */
export function emptyLists(rows: number, k: number): Lists {
  return { indices: new Int32Array(rows * k).fill(-1), distances: new Float32Array(rows * k).fill(NaN), rows, k }
}

/**
 * The first `k` of `acc` (global indices) merged with `part` (indices local to a slice whose
 * first global index is `offset`), row by row, ascending by distance and then global index
 * (−0 and +0 are one distance). `self(r)` is a global index row r must not return (−1: none).
 */
export function mergeLists(acc: Lists, part: Lists, offset: number, k: number, self: (row: number) => number = () => -1): Lists {
  const out = emptyLists(acc.rows, k)
  for (let r = 0; r < acc.rows; r++) {
    const skip = self(r)
    const aEnd = r * acc.k + acc.k, pEnd = r * part.k + part.k
    let ai = r * acc.k, pj = r * part.k
    for (let t = r * k; t < r * k + k; t++) {
      // The next entry of each side, empty places and the excluded index passed over.
      while (pj < pEnd && part.indices[pj] >= 0 && part.indices[pj] + offset === skip) pj++
      const aId = ai < aEnd ? acc.indices[ai] : -1
      const pId = pj < pEnd && part.indices[pj] >= 0 ? part.indices[pj] + offset : -1
      if (aId < 0 && pId < 0) break
      const takeA = pId < 0 || (aId >= 0 && before(acc.distances[ai], aId, part.distances[pj], pId))
      if (takeA) {
        out.indices[t] = aId
        out.distances[t] = acc.distances[ai++]
      } else {
        out.indices[t] = pId
        out.distances[t] = part.distances[pj++]
      }
    }
  }
  return out
}

/** Whether (d1, i1) comes before (d2, i2): the smaller distance, then the lower index. */
function before(d1: number, i1: number, d2: number, i2: number): boolean {
  return d1 < d2 || (d1 === d2 && i1 < i2)
}
