/**
 * A naive float64 oracle, written from API.md and docs/SEMANTICS.md alone and independent of
 * src/reference: plain loops, no tiling, no tricks. Tests compare the devices against it and
 * use it to decide whether a difference between devices is an acceptable near-tie.
 */
import type { Rows } from './data'

export type MetricName = 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'
export const METRICS: MetricName[] = ['euclidean', 'sqeuclidean', 'cosine', 'dot']

export function dotp(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let k = 0; k < a.length; k++) s += a[k] * b[k]
  return s
}

export function norm(a: readonly number[]): number {
  return Math.sqrt(dotp(a, a))
}

/** Each row divided by its L2 norm; a zero row stays zero. */
export function normalizeRows(rows: Rows): Rows {
  return rows.map((r) => {
    const n = norm(r)
    return n === 0 ? r.map(() => 0) : r.map((v) => v / n)
  })
}

export function dist(metric: MetricName, a: readonly number[], b: readonly number[]): number {
  switch (metric) {
    case 'sqeuclidean':
    case 'euclidean': {
      let s = 0
      for (let k = 0; k < a.length; k++) {
        const d = a[k] - b[k]
        s += d * d
      }
      return metric === 'euclidean' ? Math.sqrt(s) : s
    }
    case 'cosine': {
      const na = norm(a)
      const nb = norm(b)
      if (na === 0 || nb === 0) return 1
      return Math.min(2, Math.max(0, 1 - dotp(a, b) / (na * nb)))
    }
    case 'dot':
      return -dotp(a, b)
  }
}

export interface MetricOpts {
  metric?: MetricName
  normalize?: boolean
}

function prep(rows: Rows, o: MetricOpts): Rows {
  return o.normalize ? normalizeRows(rows) : rows
}

/** Full distance matrix, with the self-distance diagonal rules of docs/SEMANTICS.md when b is omitted. */
export function pairwise(a: Rows, b: Rows | undefined, o: MetricOpts = {}): number[][] {
  const metric = o.metric ?? 'euclidean'
  const A = prep(a, o)
  const B = b === undefined ? A : prep(b, o)
  return A.map((x, i) =>
    B.map((y, j) => {
      if (b === undefined && i === j && metric !== 'dot') return metric === 'cosine' && norm(x) === 0 ? 1 : 0
      return dist(metric, x, y)
    }),
  )
}

/** Order of candidate indices by (distance, index). */
export function rankBy(d: readonly number[], candidates: number[]): number[] {
  return candidates.slice().sort((i, j) => d[i] - d[j] || i - j)
}

export function knn(q: Rows, c: Rows, o: MetricOpts & { k: number; excludeSelf?: boolean }) {
  const D = pairwise(q, c, o)
  const indices: number[][] = []
  const distances: number[][] = []
  D.forEach((row, i) => {
    const cand = row.map((_, j) => j).filter((j) => !(o.excludeSelf && j === i))
    const top = rankBy(row, cand).slice(0, o.k)
    indices.push(top)
    distances.push(top.map((j) => row[j]))
  })
  return { indices, distances, D }
}

export type Triplet = [number, number, number]
export type StrategyName = 'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'
export const SET_STRATEGIES: StrategyName[] = ['all', 'violating', 'hard', 'semihard', 'easy']
export const STRATEGIES: StrategyName[] = [...SET_STRATEGIES, 'batch-hard', 'batch-semihard']

/** Every valid triplet, ascending by (a, p, n). */
export function validTriplets(labels: readonly number[]): Triplet[] {
  const out: Triplet[] = []
  const n = labels.length
  for (let a = 0; a < n; a++)
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue
      for (let x = 0; x < n; x++) if (labels[x] !== labels[a]) out.push([a, p, x])
    }
  return out
}

/** Mining on a precomputed distance matrix D (rows × rows). */
export function mineOn(D: number[][], labels: readonly number[], strategy: StrategyName, margin = 0.2): Triplet[] {
  const n = labels.length
  const m = ([a, p, x]: Triplet) => D[a][x] - D[a][p]
  switch (strategy) {
    case 'all':
      return validTriplets(labels)
    case 'violating':
      return validTriplets(labels).filter((t) => m(t) <= margin)
    case 'hard':
      return validTriplets(labels).filter((t) => m(t) <= 0)
    case 'semihard':
      return validTriplets(labels).filter((t) => m(t) > 0 && m(t) <= margin)
    case 'easy':
      return validTriplets(labels).filter((t) => m(t) > margin)
    case 'batch-hard': {
      const out: Triplet[] = []
      for (let a = 0; a < n; a++) {
        let p = -1
        let x = -1
        for (let j = 0; j < n; j++) {
          if (j === a) continue
          if (labels[j] === labels[a]) {
            if (p < 0 || D[a][j] > D[a][p]) p = j
          } else if (x < 0 || D[a][j] < D[a][x]) x = j
        }
        if (p >= 0 && x >= 0) out.push([a, p, x])
      }
      return out
    }
    case 'batch-semihard': {
      const out: Triplet[] = []
      for (let a = 0; a < n; a++)
        for (let p = 0; p < n; p++) {
          if (p === a || labels[p] !== labels[a]) continue
          let semi = -1
          let far = -1
          for (let j = 0; j < n; j++) {
            if (labels[j] === labels[a]) continue
            if (D[a][j] > D[a][p] && (semi < 0 || D[a][j] < D[a][semi])) semi = j
            if (far < 0 || D[a][j] > D[a][far]) far = j
          }
          if (far >= 0) out.push([a, p, semi >= 0 ? semi : far])
        }
      return out
    }
  }
}

export function mine(x: Rows, labels: readonly number[], o: MetricOpts & { strategy: StrategyName; margin?: number }): Triplet[] {
  return mineOn(pairwise(x, x, o), labels, o.strategy, o.margin ?? 0.2)
}

export function softplus(v: number): number {
  return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))
}

export interface LossOpts extends MetricOpts {
  margin?: number
  softMargin?: boolean
  swap?: boolean
}

/** The loss of each triplet and the value inside the hinge (dap − dan + α; for softMargin dap − dan). */
export function tripletTerms(A: Rows, P: Rows, N: Rows, o: LossOpts): { losses: number[]; inner: number[]; swapGap: number[]; dap: number[] } {
  const metric = o.metric ?? 'euclidean'
  const margin = o.margin ?? 0.2
  const a = prep(A, o)
  const p = prep(P, o)
  const n = prep(N, o)
  const losses: number[] = []
  const inner: number[] = []
  const swapGap: number[] = []
  const daps: number[] = []
  for (let i = 0; i < a.length; i++) {
    const dap = dist(metric, a[i], p[i])
    let dan = dist(metric, a[i], n[i])
    const dpn = dist(metric, p[i], n[i])
    swapGap.push(dan - dpn)
    if (o.swap && dpn < dan) dan = dpn
    const v = o.softMargin ? dap - dan : dap - dan + margin
    inner.push(v)
    daps.push(dap)
    losses.push(o.softMargin ? softplus(v) : Math.max(0, v))
  }
  return { losses, inner, swapGap, dap: daps }
}

export function reduce(losses: number[], reduction: 'mean' | 'sum' | 'mean-active' | 'none'): number {
  const sum = losses.reduce((s, v) => s + v, 0)
  if (reduction === 'sum' || reduction === 'none') return sum
  if (reduction === 'mean') return losses.length ? sum / losses.length : 0
  const active = losses.filter((v) => v > 0).length
  return active ? sum / active : 0
}

export function gather(x: Rows, idx: ArrayLike<number>): Rows {
  return Array.from(idx, (i) => x[i])
}

export interface RetrievalValues {
  precisionAt1: number
  rPrecision: number
  mapAtR: number
  mrr: number
  recallAtK: number
  precisionAtK: number
  queries: number
}
export const RETRIEVAL_KEYS = ['precisionAt1', 'rPrecision', 'mapAtR', 'mrr', 'recallAtK', 'precisionAtK'] as const

/**
 * Retrieval metrics per API.md / docs/SEMANTICS.md. With `tieTol`, also counts the kept queries whose
 * ranking has a near-tie (|Δd| ≤ tieTol(d)) between a relevant and an irrelevant reference: a
 * device that ranks such a pair the other way may differ by up to 1/queries per such query.
 */
export function retrieval(
  q: Rows,
  qLabels: readonly number[],
  o: MetricOpts & { reference?: Rows; referenceLabels?: readonly number[]; k?: number; tieTol?: (d: number) => number },
): RetrievalValues & { ambiguous: number } {
  const self = o.reference === undefined
  const ref = o.reference ?? q
  const refLabels = o.referenceLabels ?? qLabels
  const D = pairwise(q, ref, o)
  const c = self ? q.length - 1 : ref.length
  const kEff = Math.min(o.k ?? 10, c)
  const perQuery: { order: number[]; rel: boolean[]; R: number }[] = []
  let ambiguous = 0
  for (let i = 0; i < q.length; i++) {
    const cand = ref.map((_, j) => j).filter((j) => !(self && j === i))
    const R = cand.filter((j) => refLabels[j] === qLabels[i]).length
    if (R === 0) continue
    const order = rankBy(D[i], cand)
    const rel = order.map((j) => refLabels[j] === qLabels[i])
    perQuery.push({ order, rel, R })
    if (o.tieTol) {
      const ds = order.map((j) => D[i][j])
      let amb = false
      for (let s = 0; s < ds.length && !amb; s++)
        for (let t = s + 1; t < ds.length && ds[t] - ds[s] <= o.tieTol(ds[s]); t++)
          if (rel[s] !== rel[t]) amb = true
      if (amb) ambiguous++
    }
  }
  const kept = perQuery.length
  const zero = { precisionAt1: 0, rPrecision: 0, mapAtR: 0, mrr: 0, recallAtK: 0, precisionAtK: 0, queries: 0, ambiguous }
  if (kept === 0) return zero
  const Rmax = Math.max(...perQuery.map((p) => p.R))
  const window = Math.min(Math.max(Rmax, o.k ?? 10), c)
  const sums = { precisionAt1: 0, rPrecision: 0, mapAtR: 0, mrr: 0, recallAtK: 0, precisionAtK: 0 }
  for (const { rel, R } of perQuery) {
    sums.precisionAt1 += rel[0] ? 1 : 0
    let hits = 0
    let ap = 0
    for (let i = 0; i < R; i++)
      if (rel[i]) {
        hits++
        ap += hits / (i + 1)
      }
    sums.rPrecision += hits / R
    sums.mapAtR += ap / R
    const first = rel.indexOf(true)
    sums.mrr += first >= 0 && first < window ? 1 / (first + 1) : 0
    const hitsK = rel.slice(0, kEff).filter(Boolean).length
    sums.recallAtK += hitsK > 0 ? 1 : 0
    sums.precisionAtK += hitsK / kEff
  }
  return {
    precisionAt1: sums.precisionAt1 / kept,
    rPrecision: sums.rPrecision / kept,
    mapAtR: sums.mapAtR / kept,
    mrr: sums.mrr / kept,
    recallAtK: sums.recallAtK / kept,
    precisionAtK: sums.precisionAtK / kept,
    queries: kept,
    ambiguous,
  }
}
