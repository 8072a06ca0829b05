/**
 * The CLI on corpora read in blocks: `knn` and `mine-negatives` under a small --max-memory
 * (many blocks) write the bytes an in-memory run of the library gives; `--shard i/n` parts,
 * merged in any order, write them too (more shards than rows: empty shards); `merge` refuses
 * parts that do not belong together, naming the file; a failed run leaves no file behind.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { knnSync, mineHardNegativesSync, retrievalMetricsSync, writeNpy, type Matrix } from '../index'
import { main } from '../src/cli/main'
import { root } from './helpers/child'
import { duplicateSome, flat, integerRows } from './helpers/data'
import { Rng } from './helpers/prng'

const dir = mkdtempSync(join(tmpdir(), 'tripletkit-cli-scale-'))
const at = (name: string): string => join(dir, name)
const rng = new Rng(21)
const D = 6
const corpus: Matrix = { data: flat(duplicateSome(rng, integerRows(rng, 211, D, 2), 50)), rows: 211, cols: D }
const queries: Matrix = { data: flat(integerRows(rng, 19, D, 2)), rows: 19, cols: D }
const positives = Int32Array.from({ length: queries.rows }, () => rng.int(corpus.rows))
writeFileSync(at('c.npy'), writeNpy({ data: corpus.data, shape: [corpus.rows, D] }))
writeFileSync(at('c64.npy'), writeNpy({ data: Float64Array.from(corpus.data), shape: [corpus.rows, D] }))
writeFileSync(at('q.npy'), writeNpy({ data: queries.data, shape: [queries.rows, D] }))
writeFileSync(at('p.npy'), writeNpy({ data: positives }))

const bytes = (path: string): Buffer => readFileSync(path)
const npy = (data: Int32Array | Float32Array, rows: number, k: number): Buffer => Buffer.from(writeNpy({ data, shape: [rows, k] }))

/** Runs the CLI in this process, its messages captured; resolves to the exit code and stderr. */
async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr)
  let stderr = ''
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  }) as typeof process.stderr.write
  try {
    return { code: await main(args[0] === 'merge' ? args : [...args, '--device', 'cpu']), stderr }
  } finally {
    process.stderr.write = write
  }
}

const NEGATIVE_FLAGS = ['--num-negatives', '4', '--range-min', '1', '--range-max', '30', '--max-score', '0.97', '--sampling', 'random', '--seed', '3']
const NEGATIVE_OPTS = { numNegatives: 4, rangeMin: 1, rangeMax: 30, maxScore: 0.97, sampling: 'random' as const, seed: 3, device: 'cpu' as const }

for (const [metric, excludeSelf] of [['euclidean', false], ['cosine', true], ['dot', false]] as const) {
  test.serial(`knn streams the corpus in blocks and its shards merge to the same bytes (${metric}${excludeSelf ? ', exclude-self' : ''})`, async (t) => {
    const q = excludeSelf ? 'c.npy' : 'q.npy'
    const want = knnSync(excludeSelf ? corpus : queries, corpus, { k: 9, metric, excludeSelf, device: 'cpu' })
    const flags = ['--k', '9', '--metric', metric, ...(excludeSelf ? ['--exclude-self'] : []), '-q']
    const tag = `${metric}-${excludeSelf}`
    // 4 KiB for blocks of a few rows: dozens of blocks, a float64 file converted block by block.
    for (const file of ['c.npy', 'c64.npy']) {
      const r = await run('knn', at(q), at(file), ...flags, '--max-memory', excludeSelf ? '80K' : '8K', '--out', at(`i-${tag}.npy`), '--distances', at(`d-${tag}.npy`))
      t.is(r.code, 0, r.stderr)
      t.deepEqual(bytes(at(`i-${tag}.npy`)), npy(want.indices, want.rows, 9), `${file}: indices`)
      t.deepEqual(bytes(at(`d-${tag}.npy`)), npy(want.distances, want.rows, 9), `${file}: distances`)
    }
    const parts = []
    for (let i = 0; i < 5; i++) {
      parts.push(at(`part-${tag}-${i}.npz`))
      t.is((await run('knn', at(q), at('c.npy'), ...flags, '--shard', `${i}/5`, '--out', parts[i])).code, 0)
    }
    const r = await run('merge', ...parts.reverse(), '--out', at(`m-${tag}.npy`), '--distances', at(`md-${tag}.npy`))
    t.is(r.code, 0, r.stderr)
    t.deepEqual(bytes(at(`m-${tag}.npy`)), bytes(at(`i-${tag}.npy`)))
    t.deepEqual(bytes(at(`md-${tag}.npy`)), bytes(at(`d-${tag}.npy`)))
  })
}

test.serial('knn shards: more shards than rows (empty ones) and k larger than every shard merge to the single run', async (t) => {
  const small = { data: corpus.data.slice(0, 7 * D), rows: 7, cols: D }
  writeFileSync(at('small.npy'), writeNpy({ data: small.data, shape: [7, D] }))
  const want = knnSync(queries, small, { k: 5, device: 'cpu' })
  const parts = []
  for (let i = 0; i < 9; i++) {
    parts.push(at(`small-${i}.npz`))
    t.is((await run('knn', at('q.npy'), at('small.npy'), '--k', '5', '-q', '--shard', `${i}/9`, '--out', parts[i])).code, 0)
  }
  t.is((await run('merge', ...parts, '--out', at('small-i.npy'), '-q')).code, 0)
  t.deepEqual(bytes(at('small-i.npy')), npy(want.indices, want.rows, 5))
})

test.serial('mine-negatives streams the corpus and its shards merge to the bytes of mineHardNegatives', async (t) => {
  const want = mineHardNegativesSync(queries, corpus, positives, NEGATIVE_OPTS)
  t.true(want.negatives.some((n) => n >= 0))
  const r = await run('mine-negatives', at('q.npy'), at('c.npy'), at('p.npy'), ...NEGATIVE_FLAGS, '-q', '--max-memory', '30K', '--out', at('n.npy'), '--scores', at('s.npy'))
  t.is(r.code, 0, r.stderr)
  t.deepEqual(bytes(at('n.npy')), npy(want.negatives, want.rows, 4))
  t.deepEqual(bytes(at('s.npy')), npy(want.scores, want.rows, 4))
  const parts = []
  for (let i = 0; i < 4; i++) {
    parts.push(at(`neg-${i}.npz`))
    t.is((await run('mine-negatives', at('q.npy'), at('c.npy'), at('p.npy'), ...NEGATIVE_FLAGS, '-q', '--shard', `${i}/4`, '--out', parts[i])).code, 0)
  }
  t.is((await run('merge', parts[2], parts[0], parts[3], parts[1], '--out', at('mn.npy'), '--scores', at('ms.npy'))).code, 0)
  t.deepEqual(bytes(at('mn.npy')), bytes(at('n.npy')))
  t.deepEqual(bytes(at('ms.npy')), bytes(at('s.npy')))
})

test.serial('eval against a reference file read in blocks prints the numbers of an in-memory retrievalMetrics call', async (t) => {
  const refLabels = Int32Array.from({ length: corpus.rows }, (_, i) => (i * 7) % 13)
  const labels = Int32Array.from({ length: queries.rows }, (_, i) => i % 15) // labels 13 and 14: no relevant reference
  writeFileSync(at('rl.npy'), writeNpy({ data: refLabels }))
  writeFileSync(at('ql.npy'), writeNpy({ data: labels }))
  for (const [metric, k, memory] of [['euclidean', '5', '12K'], ['cosine', '300', '64K']] as const) {
    const want = retrievalMetricsSync(queries, labels, { reference: corpus, referenceLabels: refLabels, metric, k: Number(k), device: 'cpu' })
    let printed = ''
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string) => {
      printed += chunk
      return true
    }) as typeof process.stdout.write
    let code: number
    try {
      code = (await run('eval', at('q.npy'), at('ql.npy'), '--reference', at('c.npy'), '--reference-labels', at('rl.npy'), '--metric', metric, '--k', k, '--max-memory', memory, '--json', '-q')).code
    } finally {
      process.stdout.write = write
    }
    t.is(code, 0)
    t.deepEqual(JSON.parse(printed), want, `${metric}, k = ${k}`)
    t.true(want.queries > 0 && want.queries < queries.rows)
  }
})

test.serial('merge refuses parts that do not belong together, naming the file', async (t) => {
  const part = async (name: string, ...args: string[]): Promise<string> => {
    const r = await run('knn', ...args, '-q', '--out', at(name))
    t.is(r.code, 0, r.stderr)
    return at(name)
  }
  const base = ['--k', '4']
  const p0 = await part('r0.npz', at('q.npy'), at('c.npy'), ...base, '--shard', '0/2')
  const p1 = await part('r1.npz', at('q.npy'), at('c.npy'), ...base, '--shard', '1/2')
  writeFileSync(at('q2.npy'), writeNpy({ data: corpus.data.slice(0, queries.rows * D), shape: [queries.rows, D] }))
  const otherQueries = await part('r-q.npz', at('q2.npy'), at('c.npy'), ...base, '--shard', '1/2')
  const otherMetric = await part('r-m.npz', at('q.npy'), at('c.npy'), ...base, '--metric', 'cosine', '--shard', '1/2')
  const otherK = await part('r-k.npz', at('q.npy'), at('c.npy'), '--k', '5', '--shard', '1/2')
  const overlapping = await part('r-o.npz', at('q.npy'), at('c.npy'), ...base, '--shard', '1/3')
  writeFileSync(at('c-wide.npy'), writeNpy({ data: new Float32Array(corpus.rows * (D + 1)), shape: [corpus.rows, D + 1] }))
  writeFileSync(at('q-wide.npy'), writeNpy({ data: new Float32Array(queries.rows * (D + 1)), shape: [queries.rows, D + 1] }))
  const otherDim = await part('r-d.npz', at('q-wide.npy'), at('c-wide.npy'), ...base, '--shard', '1/2')
  const onJs = at('r-js.npz')
  t.is((await main(['knn', at('q.npy'), at('c.npy'), ...base, '--shard', '1/2', '--device', 'js', '-q', '--out', onJs])), 0)
  const truncated = at('r-t.npz')
  writeFileSync(truncated, bytes(p1).subarray(0, 300))
  const cases: [string[], RegExp][] = [
    [[p0, otherQueries], /r-q\.npz: expected the query set of .*r0\.npz/],
    [[p0, otherMetric], /r-m\.npz: expected the metric of .*r0\.npz \("euclidean"\), received "cosine"/],
    [[p0, otherK], /r-k\.npz: expected the k of .*r0\.npz \(4\), received 5/],
    [[p0, p1, overlapping], /r-o\.npz: its rows \[70, 140\) overlap those of .*r0\.npz|r1\.npz: its rows \[105, 211\) overlap those of .*r-o\.npz/],
    [[p1], /r1\.npz: its rows start at 105, but no part covers rows 0 to 104/],
    [[p0], /r0\.npz: the parts cover rows 0 to 104, but the corpus has 211/],
    [[p0, otherDim], /r-d\.npz: expected the (query set|dimension) of/],
    [[p0, truncated], /r-t\.npz: expected an \.npz \(zip\) file/],
    [[p0, onJs], /r-js\.npz: expected the device of .*r0\.npz \("cpu"\), received "js"/],
    [[p0, p1, p0], /r0\.npz: given twice/],
  ]
  for (const [parts, message] of cases) {
    const r = await run('merge', ...parts, '--out', at('never.npy'))
    t.is(r.code, 1, parts.join(' '))
    t.regex(r.stderr, message)
  }
  t.false(existsSync(at('never.npy')))
})

test.serial('a failed run leaves no file behind: the outputs appear together or not at all', async (t) => {
  const r = await run('knn', at('q.npy'), at('c.npy'), '--k', '3', '-q', '--out', at('lone.npy'), '--distances', join(dir, 'missing-dir', 'd.npy'))
  t.is(r.code, 1)
  t.regex(r.stderr, /missing-dir.d\.npy: cannot write it \(ENOENT\)/)
  t.false(existsSync(at('lone.npy')))
  writeFileSync(at('cut.npy'), bytes(at('c.npy')).subarray(0, 500))
  const cut = await run('knn', at('q.npy'), at('cut.npy'), '--k', '3', '-q', '--out', at('cut-out.npy'))
  t.regex(cut.stderr, /cut\.npy: expected 5064 bytes of data for shape \(211, 6\) float32, received 372 \(a truncated file\)/)
  t.false(existsSync(at('cut-out.npy')))
})

test.serial("a shard writes one part: the whole run's second output and a name other than .npz are refused", async (t) => {
  for (const [args, message] of [
    [['knn', at('q.npy'), at('c.npy'), '--k', '2', '--shard', '0/2', '--out', at('shard-x.npz'), '--distances', at('shard-x.npy')], /--distances: a shard writes one part \(--out\); tripletkit merge writes the distances/],
    [['mine-negatives', at('q.npy'), at('c.npy'), at('p.npy'), '--shard', '0/2', '--out', at('shard-x.npz'), '--scores', at('shard-x.npy')], /--scores: a shard writes one part/],
    [['knn', at('q.npy'), at('c.npy'), '--k', '2', '--shard', '0/2', '--out', at('shard-x.npy')], /--out: expected a path ending in \.npz for a shard's part/],
  ] as const) {
    const r = await run(...args)
    t.is(r.code, 1)
    t.regex(r.stderr, message)
  }
  t.false(existsSync(at('shard-x.npz')), 'shard-x.npz')
  t.false(existsSync(at('shard-x.npy')), 'shard-x.npy')
})

test.serial('a corpus value that is not finite is refused by its row in the file; integer corpora and --batch-size search as usual', async (t) => {
  const bad = corpus.data.slice()
  bad[150 * D + 2] = NaN
  writeFileSync(at('nan.npy'), writeNpy({ data: bad, shape: [corpus.rows, D] }))
  const r = await run('knn', at('q.npy'), at('nan.npy'), '--k', '2', '-q', '--max-memory', '8K', '--out', at('nan-out.npy'))
  t.is(r.code, 1)
  t.regex(r.stderr, /nan\.npy: expected finite numbers, received NaN at row 150, column 2/)
  writeFileSync(at('c-int.npy'), writeNpy({ data: Int32Array.from(corpus.data), shape: [corpus.rows, D] }))
  const want = knnSync(queries, corpus, { k: 4, device: 'cpu' })
  t.is((await run('knn', at('q.npy'), at('c-int.npy'), '--k', '4', '-q', '--batch-size', '5', '--out', at('int-out.npy'))).code, 0)
  t.deepEqual(bytes(at('int-out.npy')), npy(want.indices, want.rows, 4))
  const labels = await run('eval', at('q.npy'), at('p.npy'), '--reference', at('c.npy'), '--reference-labels', at('q.npy'))
  t.is(labels.code, 1)
  writeFileSync(at('short-labels.npy'), writeNpy({ data: new Int32Array(queries.rows - 1) }))
  const short = await run('eval', at('q.npy'), at('short-labels.npy'), '--reference', at('c.npy'), '--reference-labels', at('p.npy'))
  t.regex(short.stderr, /short-labels\.npy: expected 19 labels \(one per embedding row\), received 18/)
})

test.serial('merge refuses a part whose meta.json lacks what it must say', async (t) => {
  const { writeNpz } = await import('../src/cli/npz')
  writeFileSync(at('bare.npz'), writeNpz({ arrays: {}, texts: { 'meta.json': JSON.stringify({ format: 'tripletkit-part', version: 1 }) } }))
  const r = await run('merge', at('bare.npz'), '--out', at('bare.npy'))
  t.is(r.code, 1)
  t.regex(r.stderr, /bare\.npz: expected a meta\.json with kind, slice, corpus, queries and search/)
})

test.serial('bad flags of the corpus commands are refused with exit code 2', (t) => {
  for (const [args, message] of [
    [['--shard', '3/3'], /--shard.*expected i\/n with 0 ≤ i < n/],
    [['--shard', 'x'], /expected i\/n/],
    [['--max-memory', 'lots'], /expected bytes, such as 1073741824, 512M or 2G/],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import=tsx', join(root, 'src', 'cli', 'main.ts'), 'knn', at('q.npy'), at('c.npy'), '--k', '2', '--out', at('x.npy'), ...args],
      { cwd: root, encoding: 'utf8', timeout: 120_000 })
    t.is(r.status, 2)
    t.regex(r.stderr, message)
  }
})
