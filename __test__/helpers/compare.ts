/** Tolerance comparators, including the near-tie-aware ones for index results. */
import type { ExecutionContext } from 'ava'
import type { Rows } from './data'
import { norm, type MetricName, type StrategyName, type Triplet } from './oracle'

export interface Tol {
  rel: number
  abs: number
}

/** |x − y| ≤ abs + rel · max(|x|, |y|); NaN never passes. */
export function close(x: number, y: number, tol: Tol): boolean {
  if (x === y) return true
  return Math.abs(x - y) <= tol.abs + tol.rel * Math.max(Math.abs(x), Math.abs(y))
}

/** Fails the test (once, listing up to 5 offenders) unless every element is close. */
export function assertAllClose(
  t: ExecutionContext,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  what: string,
): boolean {
  if (actual.length !== expected.length) {
    t.fail(`${what}: length ${actual.length}, expected ${expected.length}`)
    return false
  }
  const bad: string[] = []
  let count = 0
  for (let i = 0; i < actual.length; i++)
    if (!close(actual[i], expected[i], tol)) {
      count++
      if (bad.length < 5) bad.push(`[${i}] ${actual[i]} vs ${expected[i]}`)
    }
  if (count) {
    t.fail(`${what}: ${count} of ${actual.length} differ beyond rel ${tol.rel} / abs ${tol.abs}: ${bad.join('; ')}`)
    return false
  }
  t.pass()
  return true
}

export function assertClose(t: ExecutionContext, actual: number, expected: number, tol: Tol, what: string): void {
  if (close(actual, expected, tol)) t.pass()
  else t.fail(`${what}: ${actual}, expected ${expected} (rel ${tol.rel} / abs ${tol.abs})`)
}

/**
 * The magnitude of the distances that `metric` produces on these rows, so that an absolute
 * tolerance can be stated relative to the data ("1e-5 of the scale"): float32 GEMM errors are
 * relative to the norms, not to the (possibly tiny) distance.
 */
export function distScale(metric: MetricName, normalize: boolean, ...sets: Rows[]): number {
  let n = normalize ? 1 : 0
  if (!normalize) for (const rows of sets) for (const r of rows) n = Math.max(n, norm(r))
  switch (metric) {
    case 'euclidean':
      return Math.max(1, 2 * n)
    case 'sqeuclidean':
      return Math.max(1, 4 * n * n)
    case 'cosine':
      return 1
    case 'dot':
      return Math.max(1, n * n)
  }
}

/** Distance tolerance: rel 1e-4 of the value, abs 1e-5 of the data's scale. */
export function distTol(scale: number): Tol {
  return { rel: 1e-4, abs: 1e-5 * scale }
}

export function tripletList(tr: { anchor: ArrayLike<number>; positive: ArrayLike<number>; negative: ArrayLike<number>; length?: number }): Triplet[] {
  return Array.from(tr.anchor, (a, i) => [a, tr.positive[i], tr.negative[i]] as Triplet)
}

export function isSortedTriplets(list: Triplet[]): boolean {
  for (let i = 1; i < list.length; i++) {
    const [a, b] = [list[i - 1], list[i]]
    const c = a[0] - b[0] || a[1] - b[1] || a[2] - b[2]
    if (c >= 0) return false
  }
  return true
}

/**
 * knn rows: `got` must equal `want` position by position, except where the reference
 * distances D (query × corpus, float64) of the two candidates are within `tie`.
 * Returns a list of problems (empty = fine).
 */
export function knnProblems(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  D: number[][],
  k: number,
  tie: Tol,
  excludeSelf = false,
): string[] {
  const problems: string[] = []
  for (let i = 0; i < D.length && problems.length < 5; i++) {
    const seen = new Set<number>()
    for (let j = 0; j < k; j++) {
      const g = got[i * k + j]
      const w = want[i * k + j]
      if (!(Number.isInteger(g) && g >= 0 && g < D[i].length)) {
        problems.push(`row ${i} pos ${j}: index ${g} out of range`)
        continue
      }
      if (seen.has(g)) problems.push(`row ${i}: index ${g} twice`)
      seen.add(g)
      if (excludeSelf && g === i) problems.push(`row ${i}: returned itself with excludeSelf`)
      if (g !== w && !close(D[i][g], D[i][w], tie))
        problems.push(`row ${i} pos ${j}: index ${g} (d=${D[i][g]}) where ${w} (d=${D[i][w]}) expected`)
    }
  }
  return problems
}

/**
 * batch-hard / batch-semihard: the (anchor) or (anchor, positive) lists are decided by the labels
 * alone and must match exactly; a differing positive/negative choice is accepted only at a
 * near-tie of the reference distances (for batch-semihard also when some negative lies within
 * `tie` of d(a, p), where "d(a,n) > d(a,p)" itself is ambiguous).
 */
export function batchProblems(
  got: Triplet[],
  want: Triplet[],
  D: number[][],
  labels: readonly number[],
  strategy: StrategyName,
  tie: Tol,
): string[] {
  if (got.length !== want.length) return [`${got.length} triplets, expected ${want.length}`]
  const problems: string[] = []
  for (let i = 0; i < got.length && problems.length < 5; i++) {
    const [a, p, n] = got[i]
    const [wa, wp, wn] = want[i]
    const where = `triplet ${i} (${a}, ${p}, ${n}) vs expected (${wa}, ${wp}, ${wn})`
    if (a !== wa) {
      problems.push(`${where}: anchor differs`)
      continue
    }
    if (p === a || labels[p] !== labels[a] || labels[n] === labels[a]) {
      problems.push(`${where}: not a valid triplet`)
      continue
    }
    if (strategy === 'batch-semihard') {
      if (p !== wp) {
        problems.push(`${where}: positive differs`)
        continue
      }
      if (n !== wn && !close(D[a][n], D[a][wn], tie)) {
        const boundary = labels.some((l, j) => l !== labels[a] && close(D[a][j], D[a][p], tie))
        if (!boundary) problems.push(`${where}: negative differs (d=${D[a][n]} vs ${D[a][wn]}, d(a,p)=${D[a][p]})`)
      }
    } else {
      if (p !== wp && !close(D[a][p], D[a][wp], tie)) problems.push(`${where}: positive differs (d=${D[a][p]} vs ${D[a][wp]})`)
      if (n !== wn && !close(D[a][n], D[a][wn], tie)) problems.push(`${where}: negative differs (d=${D[a][n]} vs ${D[a][wn]})`)
    }
  }
  return problems
}

/**
 * Set strategies: both lists ascending by (a, p, n); a triplet in one and not the other is
 * accepted only when its m = d(a,n) − d(a,p) is within `tieAbs` of a boundary of the strategy
 * (0 and/or α).
 */
export function setProblems(got: Triplet[], want: Triplet[], D: number[][], strategy: StrategyName, margin: number, tieAbs: number): string[] {
  const problems: string[] = []
  if (!isSortedTriplets(got)) problems.push('not ascending by (a, p, n) or has duplicates')
  const key = (t: Triplet) => t.join(',')
  const gotSet = new Set(got.map(key))
  const wantSet = new Set(want.map(key))
  const boundaries = strategy === 'hard' ? [0] : strategy === 'semihard' ? [0, margin] : strategy === 'all' ? [] : [margin]
  const check = (list: Triplet[], other: Set<string>, verb: string) => {
    for (const tr of list) {
      if (other.has(key(tr)) || problems.length >= 5) continue
      const [a, p, n] = tr
      const m = D[a][n] - D[a][p]
      if (!boundaries.some((b) => Math.abs(m - b) <= tieAbs)) problems.push(`(${tr}) ${verb} (m = ${m})`)
    }
  }
  check(got, wantSet, 'returned but not expected')
  check(want, gotSet, 'expected but missing')
  return problems
}
