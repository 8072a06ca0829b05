/**
 * KnnIndex and the merges of results computed in pieces: on every device, an index filled by
 * several adds, searched in any batches, and knn results over shards merged with mergeKnn all
 * equal one knn call over the whole corpus, bit for bit (ties across shard borders, k larger
 * than a shard, empty shards included); hard negatives through an index, or from shard
 * candidates merged, equal one mineHardNegatives call, seeded 'random' sampling included.
 */
import test from 'ava'
import type { ExecutionContext } from 'ava'
import {
  hardNegativeCandidates, hardNegativeCandidatesSync, KnnIndex, knnSync, mergeHardNegatives, mergeKnn, mineHardNegatives, mineHardNegativesSync,
  type HardNegatives, type KnnResult, type Matrix, type Metric,
} from '../index'
import { loadNative } from '../src/native'
import { DEVICES } from './helpers/devices'
import { duplicateSome, flat, integerRows } from './helpers/data'
import { Rng } from './helpers/prng'

const METRICS: Metric[] = ['euclidean', 'sqeuclidean', 'cosine', 'dot']

/** Integer-valued rows with duplicates: exact ties everywhere, across every cut. */
function tiedRows(rng: Rng, rows: number, cols: number): Matrix {
  return { data: flat(duplicateSome(rng, integerRows(rng, rows, cols, 2), rows >> 2)), rows, cols }
}

function slice(m: Matrix, start: number, end: number): Matrix {
  return { data: m.data.slice(start * m.cols, end * m.cols), rows: end - start, cols: m.cols }
}

const bits = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)

function sameKnn(t: ExecutionContext, got: KnnResult, want: KnnResult, what: string): void {
  t.deepEqual([got.rows, got.k], [want.rows, want.k], `${what}: shape`)
  t.deepEqual(got.indices, want.indices, `${what}: indices`)
  t.deepEqual(bits(got.distances), bits(want.distances), `${what}: distance bits`)
}

function sameNegatives(t: ExecutionContext, got: HardNegatives, want: HardNegatives, what: string): void {
  t.deepEqual(got.negatives, want.negatives, `${what}: negatives`)
  t.deepEqual(bits(got.scores), bits(want.scores), `${what}: score bits`)
}

/** Cuts of [0, n): an empty piece, a one-row piece, and the rest unevenly. */
function cuts(n: number): number[] {
  return [0, 0, 1, Math.floor(n / 3), Math.floor(n / 3), n - 2, n]
}

for (const device of DEVICES) {
  for (const metric of METRICS) {
    test(`KnnIndex filled by several adds and searched in batches equals one knn call (${device}, ${metric})`, async (t) => {
      const rng = new Rng(11)
      const corpus = tiedRows(rng, 203, 5)
      const queries = tiedRows(rng, 37, 5)
      const index = new KnnIndex({ metric, device })
      const cut = cuts(corpus.rows)
      for (let i = 1; i < cut.length; i++) index.add(slice(corpus, cut[i - 1], cut[i]))
      t.is(index.size, corpus.rows)
      t.is(index.dim, 5)
      for (const k of [1, 9, 203]) {
        const want = knnSync(queries, corpus, { k, metric, device })
        sameKnn(t, index.searchSync(queries, { k, batchSize: 7 }), want, `searchSync k = ${k}`)
        sameKnn(t, await index.search(queries, { k }), want, `search k = ${k}`)
      }
      const self = knnSync(corpus, corpus, { k: 6, metric, device, excludeSelf: true })
      sameKnn(t, index.searchSync(corpus, { k: 6, excludeSelf: true, batchSize: 50 }), self, 'excludeSelf')
      sameKnn(t, index.searchSync(corpus, { k: 202, excludeSelf: true }), knnSync(corpus, corpus, { k: 202, metric, device, excludeSelf: true }), 'excludeSelf, k = size − 1')
    })

    test(`mergeKnn of shards equals one knn call: ties across borders, k over a shard, empty shards (${device}, ${metric})`, (t) => {
      const rng = new Rng(12)
      const corpus = tiedRows(rng, 131, 4)
      const queries = tiedRows(rng, 23, 4)
      const k = 8
      const cut = cuts(corpus.rows)
      const parts = []
      for (let i = 1; i < cut.length; i++) {
        const shard = slice(corpus, cut[i - 1], cut[i])
        const result = shard.rows === 0 ? { indices: new Int32Array(0), distances: new Float32Array(0), rows: queries.rows, k: 0 }
          : knnSync(queries, shard, { k: Math.min(k, shard.rows), metric, device })
        parts.push({ result, offset: cut[i - 1], rows: shard.rows })
      }
      sameKnn(t, mergeKnn(parts.reverse(), { k }), knnSync(queries, corpus, { k, metric, device }), 'merged')
    })
  }

  test(`mineHardNegatives through a KnnIndex and merged from shard candidates equals one call (${device})`, async (t) => {
    const rng = new Rng(13)
    const corpus = tiedRows(rng, 157, 6)
    const queries = tiedRows(rng, 29, 6)
    const positives = Int32Array.from({ length: queries.rows }, () => rng.int(corpus.rows))
    const index = new KnnIndex({ metric: 'euclidean' }) // its metric is not used: opts.similarity is
    const cut = cuts(corpus.rows)
    for (let i = 1; i < cut.length; i++) index.add(slice(corpus, cut[i - 1], cut[i]))
    for (const similarity of ['cosine', 'dot'] as const) {
      for (const sampling of ['top', 'random'] as const) {
        const rules = { numNegatives: 4, rangeMin: 1, rangeMax: 40, maxScore: similarity === 'cosine' ? 0.95 : 3, sampling, seed: 9, similarity }
        const want = mineHardNegativesSync(queries, corpus, positives, { ...rules, device })
        const what = `${similarity}, ${sampling}`
        t.true(want.negatives.some((n) => n >= 0), `${what}: some negatives found`)
        sameNegatives(t, mineHardNegativesSync(queries, index, positives, { ...rules, device, batchSize: 5 }), want, `index sync, ${what}`)
        sameNegatives(t, await mineHardNegatives(queries, index, positives, { ...rules, device }), want, `index, ${what}`)
        const parts = []
        for (let i = 1; i < cut.length; i++) {
          const opts = { offset: cut[i - 1], corpusRows: corpus.rows, rangeMax: rules.rangeMax, similarity, device }
          const shard = slice(corpus, cut[i - 1], cut[i])
          parts.push(i % 2 === 0 ? hardNegativeCandidatesSync(queries, shard, positives, opts) : await hardNegativeCandidates(queries, shard, positives, opts))
        }
        sameNegatives(t, mergeHardNegatives(parts.reverse(), rules), want, `merged, ${what}`)
      }
    }
  })
}

if (DEVICES.includes('cuda')) {
  /** Bytes copied to the device and back so far, counted by the emulator. */
  function copied(): [number, number] {
    const native = loadNative()
    if (!native.ok) throw native.error
    const c = native.binding.backends().cuda.copied
    if (c == null) throw new Error('the CUDA device does not count its copies (not the emulator)')
    return [c.toDevice, c.fromDevice]
  }

  test.serial('KnnIndex on cuda keeps its pieces on the device: later searches move only queries and results, an add re-uploads only its piece', async (t) => {
    const rng = new Rng(17)
    const [rows, cols, k] = [301, 7, 5]
    const corpus = tiedRows(rng, rows, cols)
    const queries = tiedRows(rng, 23, cols)
    const index = new KnnIndex({ metric: 'cosine', device: 'cuda' })
    index.add(slice(corpus, 0, 200))
    index.add(slice(corpus, 200, rows)) // the same piece, grown: its copy must follow
    const want = knnSync(queries, corpus, { k, metric: 'cosine', device: 'cpu' })
    const rowBytes = 4 * cols + 4 // values and squared norm
    const [queryBytes, listBytes] = [queries.rows * rowBytes, queries.rows * k * 12]
    const moved = async (search: () => KnnResult | Promise<KnnResult>): Promise<[number, number]> => {
      const [up, down] = copied()
      sameKnn(t, await search(), want, 'search')
      const [up2, down2] = copied()
      return [up2 - up, down2 - down]
    }
    t.is(index.deviceBytes, 0, 'nothing on the device before a search')
    t.deepEqual(await moved(() => index.search(queries, { k })), [rows * rowBytes + queryBytes, listBytes], 'the first search uploads the corpus')
    t.is(index.deviceBytes, rows * rowBytes)
    t.deepEqual(await moved(() => index.search(queries, { k })), [queryBytes, listBytes], 'a second search moves only queries and lists')
    t.deepEqual(await moved(() => index.searchSync(queries, { k })), [queryBytes, listBytes], 'searchSync reads the same copy')
    // An add changes the last piece: only that piece is uploaded again.
    const more = tiedRows(rng, 9, cols)
    index.add(more)
    const all: Matrix = { data: Float32Array.from([...corpus.data, ...more.data]), rows: rows + 9, cols }
    const wantAll = knnSync(queries, all, { k, metric: 'cosine', device: 'cpu' })
    const [up] = copied()
    sameKnn(t, index.searchSync(queries, { k }), wantAll, 'after an add')
    t.is(copied()[0] - up, (rows + 9) * rowBytes + queryBytes)
    index.releaseDevice()
    t.is(index.deviceBytes, 0, 'releaseDevice frees the copies')
    const [up3] = copied()
    sameKnn(t, index.searchSync(queries, { k }), wantAll, 'after releaseDevice')
    t.is(copied()[0] - up3, (rows + 9) * rowBytes + queryBytes, 'the next search uploads again')
  })

  test.serial('KnnIndex on cuda: an add or releaseDevice while async searches are queued changes nothing they read', async (t) => {
    const rng = new Rng(23)
    const [rows, cols, k] = [1500, 16, 4]
    const corpus = tiedRows(rng, rows, cols)
    const queries = tiedRows(rng, 400, cols)
    const index = new KnnIndex({ device: 'cuda' })
    index.add(corpus)
    const want = knnSync(queries, corpus, { k, device: 'cpu' })
    await index.search(queries, { k }) // keeps the piece on the device
    t.true(index.deviceBytes > 0)
    // More searches than the addon has threads, so that some wait in its queue; then the copy
    // is let go in the same tick, twice over.
    const searches = Array.from({ length: 12 }, () => index.search(queries, { k }))
    index.add(tiedRows(rng, 3, cols))
    const third = index.search(queries, { k: 2 })
    index.releaseDevice()
    for (const got of await Promise.all(searches)) sameKnn(t, got, want, 'a search queued before the add')
    t.is((await third).rows, queries.rows)
    t.is(index.deviceBytes, 0, 'nothing kept after releaseDevice once the searches ended')
  })

  test.serial('KnnIndex on cuda under a small maxMemory streams its pieces at every search and keeps none', (t) => {
    const rng = new Rng(19)
    const [rows, cols, k] = [3000, 6, 3]
    const corpus = tiedRows(rng, rows, cols)
    const queries = tiedRows(rng, 11, cols)
    const rowBytes = 4 * cols + 4
    // Less than twice the corpus: it cannot stay, yet a search fits in column chunks.
    const index = new KnnIndex({ device: 'cuda', maxMemory: Math.floor(1.5 * rows * rowBytes) })
    index.add(corpus)
    const want = knnSync(queries, corpus, { k, device: 'cpu' })
    for (let i = 0; i < 2; i++) {
      const [up] = copied()
      sameKnn(t, index.searchSync(queries, { k }), want, `search ${i}`)
      t.is(copied()[0] - up, rows * rowBytes + queries.rows * rowBytes, `search ${i} uploads the corpus`)
      t.is(index.deviceBytes, 0)
    }
  })
}

test('KnnIndex on a case worked by hand: ids continue across adds, ties go to the lower global id', (t) => {
  const index = new KnnIndex({ metric: 'euclidean', device: 'cpu' })
  index.add([[0, 0], [3, 4]])
  index.add([[0, 0], [1, 0]])
  const r = index.searchSync([[0, 0]], { k: 4 })
  t.deepEqual([...r.indices], [0, 2, 3, 1])
  t.deepEqual([...r.distances], [0, 0, 1, 5])
  const self = index.searchSync([[0, 0], [3, 4]], { k: 2, excludeSelf: true })
  // Row 0 skips id 0 (then ids 2 and 3); row 1 skips id 1: (1,0) is √20 away, then ids 0 and 2 tie at 5 and 0 wins.
  t.deepEqual([...self.indices], [2, 3, 3, 0])
  t.deepEqual([...self.distances].map((d) => Math.fround(d)), [0, 1, Math.fround(Math.sqrt(20)), 5])
})

test('KnnIndex: many small adds search as one add, and an add during a search does not change it', async (t) => {
  const rng = new Rng(14)
  const corpus = tiedRows(rng, 300, 3)
  const queries = tiedRows(rng, 11, 3)
  const index = new KnnIndex({ device: 'cpu' })
  for (let i = 0; i < corpus.rows; i += i % 3 === 0 ? 1 : 7) index.add(slice(corpus, i, Math.min(corpus.rows, i + (i % 3 === 0 ? 1 : 7))))
  t.is(index.size, corpus.rows)
  const want = knnSync(queries, corpus, { k: 12, device: 'cpu' })
  sameKnn(t, index.searchSync(queries, { k: 12 }), want, 'small adds')
  const pending = index.search(queries, { k: 12 })
  index.add(queries) // exact copies of the queries: distance 0, ids from 300 on
  sameKnn(t, await pending, want, 'the search started before the add')
  t.is(index.searchSync(queries, { k: 1 }).indices[0], 300)
})

test('mergeKnn on a case worked by hand, and its refusals', (t) => {
  const a = { result: { indices: Int32Array.from([1, 0]), distances: Float32Array.from([1, 2]), rows: 1, k: 2 }, offset: 0, rows: 2 }
  const b = { result: { indices: Int32Array.from([0, 1]), distances: Float32Array.from([1, 3]), rows: 1, k: 2 }, offset: 2, rows: 2 }
  const m = mergeKnn([b, a], { k: 3 })
  t.deepEqual([...m.indices], [1, 2, 0]) // distance 1 twice: global id 1 before 2
  t.deepEqual([...m.distances], [1, 1, 2])
  t.throws(() => mergeKnn([a, { ...b, offset: 1 }], { k: 2 }), { instanceOf: RangeError, message: /parts\[1\]\.offset: expected 2 or more/ })
  t.throws(() => mergeKnn([a, b], { k: 5 }), { instanceOf: RangeError, message: /opts\.k: expected at most 4 \(the neighbours the parts hold a query\), received 5/ })
  t.throws(() => mergeKnn([], { k: 1 }), { instanceOf: TypeError, message: /parts: expected a non-empty array/ })
  t.throws(() => mergeKnn([a, { ...b, result: { ...b.result, rows: 2 } }], { k: 1 }), { instanceOf: RangeError, message: /parts\[1\]\.result\.rows: expected 1/ })
  t.throws(() => mergeKnn([{ ...a, result: { ...a.result, indices: Int32Array.from([2, 0]) } }], { k: 1 }), { instanceOf: RangeError, message: /expected indices from 0 to 1/ })
  // A part of fewer than k must list all its shard's rows: a 1-of-2 part would drop a neighbour.
  const short = { result: { indices: Int32Array.from([1]), distances: Float32Array.from([1]), rows: 1, k: 1 }, offset: 0, rows: 2 }
  t.throws(() => mergeKnn([short, b], { k: 2 }), { instanceOf: RangeError, message: /parts\[0\]\.result\.k: expected at least 2 neighbours a query/ })
  t.throws(() => mergeKnn([{ ...short, rows: undefined }, b], { k: 2 }), { instanceOf: RangeError, message: /or give the shard's rows/ })
  t.throws(() => mergeKnn([{ ...a, offset: 2 ** 31 }], { k: 1 }), { instanceOf: RangeError, message: /parts\[0\]\.offset/ })
})

test('KnnIndex refuses bad input, naming the argument', (t) => {
  t.throws(() => new KnnIndex({ metric: 'manhattan' as Metric }), { instanceOf: RangeError, message: /opts\.metric/ })
  t.throws(() => new KnnIndex({ k: 3 } as never), { instanceOf: TypeError, message: /opts\.k: expected no option of this name/ })
  const index = new KnnIndex({ device: 'cpu' })
  t.throws(() => index.searchSync([[1, 2]], { k: 1 }), { instanceOf: RangeError, message: /opts\.k: expected rows in the index to search, received an index of 0 rows/ })
  index.add([[1, 2], [3, 4]])
  t.throws(() => index.add([[1, 2, 3]]), { instanceOf: RangeError, message: /rows: expected 2 columns \(the index's dim\), received 3/ })
  t.throws(() => index.searchSync([[1, 2, 3]], { k: 1 }), { instanceOf: RangeError, message: /queries: expected 2 columns/ })
  t.throws(() => index.searchSync([[1, 2]], { k: 3 }), { instanceOf: RangeError, message: /opts\.k: expected an integer from 1 to 2/ })
  t.throws(() => index.searchSync([[1, 2]], { k: 2, excludeSelf: true }), { instanceOf: RangeError, message: /from 1 to 1 \(the index's size − 1, with excludeSelf\)/ })
  t.throws(() => index.searchSync([[1, 2]], { k: 1.5 }), { instanceOf: RangeError, message: /opts\.k/ })
  t.is(index.size, 2)
})

test('mergeHardNegatives refuses parts that do not belong together', async (t) => {
  const corpus = [[1, 0], [0, 1], [1, 1], [2, 1]]
  const queries = [[1, 0.5]]
  const part = (offset: number, rows: number, o: object = {}) =>
    hardNegativeCandidates(queries, corpus.slice(offset, offset + rows), [1], { offset, corpusRows: 4, rangeMax: 3, ...o })
  const [a, b] = [await part(0, 2), await part(2, 2)]
  t.deepEqual(mergeHardNegatives([a, b], { rangeMax: 3, numNegatives: 2 }).negatives, mineHardNegativesSync(queries, corpus, [1], { rangeMax: 3, numNegatives: 2 }).negatives)
  t.throws(() => mergeHardNegatives([a], { rangeMax: 3 }), { instanceOf: RangeError, message: /parts: expected shards covering the corpus's 4 rows, received shards covering rows 0 to 1/ })
  t.throws(() => mergeHardNegatives([a, b], { rangeMax: 4 }), { instanceOf: RangeError, message: /parts\[0\]\.rangeMax: expected 4/ })
  t.throws(() => mergeHardNegatives([a, b], { rangeMax: 3, similarity: 'dot' }), { instanceOf: RangeError, message: /similarity: expected 'dot'/ })
  const other = await hardNegativeCandidates(queries, corpus.slice(2), [0], { offset: 2, corpusRows: 4, rangeMax: 3 })
  t.throws(() => mergeHardNegatives([a, other], { rangeMax: 3 }), { instanceOf: RangeError, message: /positives: expected the queries and positives of parts\[0\]/ })
  const stray = { ...b, positives: Int32Array.from([9]) }
  t.throws(() => mergeHardNegatives([a, stray], { rangeMax: 3 }), { instanceOf: RangeError, message: /parts\[1\]\.positives: expected corpus rows from 0 to 3/ })
  const overlapping = await part(1, 3)
  t.throws(() => mergeHardNegatives([a, overlapping], { rangeMax: 3 }), { instanceOf: RangeError, message: /offset: expected 2/ })
})
