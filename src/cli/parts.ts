/**
 * Shard parts: what `--shard i/n` writes (an `.npz` of the slice's lists and a `meta.json`
 * saying what they are), and `tripletkit merge`, which checks that the parts belong together
 * and cover the corpus, merges them and writes the single run's files, byte for byte.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { candidateCount, emptyNegatives, pickRow, readRules } from '../hardNegatives'
import { emptyLists, mergeLists, type Lists } from '../neighbours'
import type { Matrix, MergeHardNegativesOptions } from '../types'
import { CliError } from './io'
import { readNpz, writeNpz } from './npz'

/** A fingerprint of an array's values, to tell parts of other queries or positives apart. */
export function fingerprint(data: Float32Array | Int32Array): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex')
}

/** What a part says about itself: everything two parts must share to merge, and its slice. */
export interface PartMeta {
  format: 'tripletkit-part'
  version: 1
  kind: 'knn' | 'negatives'
  shard: [number, number]
  slice: [number, number]
  corpus: { rows: number; dim: number }
  queries: { rows: number; sha256: string }
  /** knn: k, metric, normalize, excludeSelf. negatives: the rule options and the positives' fingerprint. */
  search: Record<string, unknown>
}

/** The `.npz` bytes of a part: the slice's lists (global indices), plus the positives' data for hard negatives. */
export function partBytes(meta: PartMeta, lists: Lists, extra: Record<string, Float32Array | Int32Array> = {}): Uint8Array {
  const arrays: Parameters<typeof writeNpz>[0]['arrays'] = {
    indices: { data: lists.indices, shape: [lists.rows, lists.k] },
    distances: { data: lists.distances, shape: [lists.rows, lists.k] },
    slice: { data: BigInt64Array.from([meta.slice[0], meta.slice[1], meta.corpus.rows].map(BigInt)) },
  }
  for (const [name, data] of Object.entries(extra)) arrays[name] = { data }
  return writeNpz({ arrays, texts: { 'meta.json': `${JSON.stringify(meta, null, 1)}\n` } })
}

/** A part's file and what it says about itself (read first, for every part, before any lists). */
interface PartFile {
  path: string
  meta: PartMeta
}

/** One part's lists and arrays, read back and checked against its meta. */
interface Part extends PartFile {
  lists: Lists
  arrays: Record<string, Float32Array | Int32Array>
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    const hint = code === 'ERR_FS_FILE_TOO_LARGE' ? ': a part holds at most 2 GiB; split the queries into several runs' : ''
    throw new CliError(`${path}: cannot read it (${code})${hint}`)
  }
}

function unpack(path: string, only?: string): ReturnType<typeof readNpz> {
  try {
    return readNpz(readBytes(path), path, only)
  } catch (err) {
    throw err instanceof CliError ? err : new CliError((err as Error).message)
  }
}

function readMeta(path: string): PartFile {
  const texts = unpack(path, 'meta.json').texts
  let meta: PartMeta
  try {
    meta = JSON.parse(texts['meta.json'] ?? 'null') as PartMeta
  } catch {
    throw new CliError(`${path}: expected a tripletkit part with a readable meta.json, received one that is not JSON`)
  }
  if (meta?.format !== 'tripletkit-part' || meta.version !== 1) {
    throw new CliError(`${path}: expected a part written by tripletkit knn or mine-negatives with --shard, received another file`)
  }
  const whole = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0
  const [start, end] = (Array.isArray(meta.slice) ? meta.slice : [NaN, NaN]) as [number, number]
  if ((meta.kind !== 'knn' && meta.kind !== 'negatives') || !whole(start) || !whole(end) || start > end || typeof meta.corpus !== 'object' ||
    meta.corpus === null || !whole(meta.corpus.rows) || end > meta.corpus.rows || !whole(meta.corpus.dim) || typeof meta.queries !== 'object' ||
    meta.queries === null || !whole(meta.queries.rows) || typeof meta.search !== 'object' || meta.search === null ||
    (meta.kind === 'knn' ? !whole(meta.search.k) : !whole(meta.search.rangeMax) || typeof meta.search.rules !== 'object')) {
    throw new CliError(`${path}: expected a meta.json with kind, slice, corpus, queries and search, received one that lacks some`)
  }
  return { path, meta }
}

function readPart({ path, meta }: PartFile): Part {
  const content = unpack(path)
  const { indices, distances } = content.arrays
  const [start, end] = meta.slice
  const width = Math.min(end - start, meta.kind === 'knn' ? Number(meta.search.k) : candidateCount(Number(meta.search.rangeMax), meta.corpus.rows))
  for (const [name, array, type] of [['indices', indices, Int32Array], ['distances', distances, Float32Array]] as const) {
    if (array === undefined || !(array.data instanceof type) || array.shape.join() !== `${meta.queries.rows},${width}`) {
      throw new CliError(`${path}: expected ${name}.npy of ${meta.queries.rows} × ${width} ${type === Int32Array ? 'int32' : 'float32'}, ` +
        `received ${array === undefined ? 'none' : `(${array.shape.join(', ')}) ${array.dtype}`}`)
    }
  }
  const lists: Lists = { indices: indices.data as Int32Array, distances: distances.data as Float32Array, rows: meta.queries.rows, k: width }
  for (const j of lists.indices) {
    if (j !== -1 && (j < start || j >= end)) throw new CliError(`${path}: expected indices within its slice [${start}, ${end}), received ${j}`)
  }
  const arrays: Part['arrays'] = {}
  for (const [name, a] of Object.entries(content.arrays)) if (a.data instanceof Float32Array || a.data instanceof Int32Array) arrays[name] = a.data
  if (meta.kind === 'negatives') {
    for (const [name, type] of [['positives', Int32Array], ['positive_scores', Float32Array]] as const) {
      if (!(arrays[name] instanceof type) || arrays[name].length !== meta.queries.rows) {
        throw new CliError(`${path}: expected ${name}.npy of ${meta.queries.rows} values, received ${arrays[name] === undefined ? 'none' : arrays[name].length}`)
      }
    }
  }
  return { path, meta, lists, arrays }
}

/** Refuses parts that do not belong together or do not cover the corpus once, naming the file. */
function checkParts(parts: PartFile[]): void {
  const first = parts[0]
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  for (const p of parts.slice(1)) {
    const differs = (what: string, a: unknown, b: unknown) =>
      new CliError(`${p.path}: expected the ${what} of ${first.path} (${JSON.stringify(a)}), received ${JSON.stringify(b)}`)
    if (p.meta.kind !== first.meta.kind) throw differs('kind of part', first.meta.kind, p.meta.kind)
    if (!same(p.meta.queries, first.meta.queries)) throw differs('query set', first.meta.queries, p.meta.queries)
    if (p.meta.corpus.dim !== first.meta.corpus.dim) throw differs('dimension', first.meta.corpus.dim, p.meta.corpus.dim)
    if (p.meta.corpus.rows !== first.meta.corpus.rows) throw differs('corpus rows', first.meta.corpus.rows, p.meta.corpus.rows)
    for (const key of new Set([...Object.keys(first.meta.search), ...Object.keys(p.meta.search)])) {
      if (!same(p.meta.search[key], first.meta.search[key])) throw differs(key, first.meta.search[key], p.meta.search[key])
    }
  }
  const seen = new Set<string>()
  for (const p of parts) {
    const key = resolve(p.path)
    if (seen.has(key)) throw new CliError(`${p.path}: given twice`)
    seen.add(key)
  }
  const sorted = [...parts].sort((a, b) => a.meta.slice[0] - b.meta.slice[0] || a.meta.slice[1] - b.meta.slice[1])
  let covered = 0
  let last: PartFile | undefined
  for (const p of sorted) {
    const [start, end] = p.meta.slice
    if (start > covered) throw new CliError(`${p.path}: its rows start at ${start}, but no part covers rows ${covered} to ${start - 1}`)
    if (start < covered && end > start) throw new CliError(`${p.path}: its rows [${start}, ${end}) overlap those of ${last!.path}`)
    covered = Math.max(covered, end)
    if (end > start) last = p
  }
  if (covered !== first.meta.corpus.rows) throw new CliError(`${first.path}: the parts cover rows 0 to ${covered - 1}, but the corpus has ${first.meta.corpus.rows}: rows ${covered} onwards are missing`)
}

/**
 * The single-run results of the parts at `paths`: knn's indices and distances, or hard
 * negatives and their scores. Every part's meta is checked first; then the parts are read and
 * merged one at a time, in slice order, so that the merge holds one part beside its result.
 */
export function mergeParts(paths: string[]): { kind: 'knn' | 'negatives'; rows: number; k: number; a: Int32Array; b: Float32Array } {
  if (paths.length === 0) throw new CliError('parts: expected at least one part file')
  const files = paths.map(readMeta)
  checkParts(files)
  files.sort((x, y) => x.meta.slice[0] - y.meta.slice[0] || x.meta.slice[1] - y.meta.slice[1])
  const meta = files[0].meta
  const rows = meta.queries.rows
  if (meta.kind === 'knn') {
    const k = Number(meta.search.k)
    let acc = emptyLists(rows, k)
    for (const f of files) acc = mergeLists(acc, readPart(f).lists, 0, k)
    return { kind: 'knn', rows, k, a: acc.indices, b: acc.distances }
  }
  const rules = readRules(meta.search.rules as MergeHardNegativesOptions)
  const k = candidateCount(rules.rangeMax, meta.corpus.rows)
  let acc = emptyLists(rows, k)
  let positives: Int32Array | undefined
  const positiveScores = new Float32Array(rows).fill(NaN)
  for (const f of files) {
    const part = readPart(f)
    acc = mergeLists(acc, part.lists, 0, k)
    positives ??= part.arrays.positives as Int32Array
    const [start, end] = f.meta.slice
    const scores = part.arrays.positive_scores as Float32Array
    for (let i = 0; i < rows; i++) if (positives[i] >= start && positives[i] < end) positiveScores[i] = scores[i]
  }
  const out = emptyNegatives(rows, rules.numNegatives)
  for (let i = 0; i < rows; i++) pickRow(rules, out, i, acc.indices, acc.distances, i * k, k, positives![i], positiveScores[i])
  return { kind: 'negatives', rows, k: out.numNegatives, a: out.negatives, b: out.scores }
}

/** What every part of a query set records about it. */
export function queryMeta(q: Matrix): PartMeta['queries'] {
  return { rows: q.rows, sha256: fingerprint(q.data) }
}
