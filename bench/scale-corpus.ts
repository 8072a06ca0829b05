/**
 * npm run bench:scale (second part): a corpus file on disk, bigger than what a search should
 * hold in memory, searched exactly through the CLI, which reads it in --max-memory blocks.
 * Each run is a process of its own, so its peak resident memory is its own:
 *
 *   - `tripletkit knn` of Q queries against an N × 128 float32 corpus file (generated here and
 *     deleted afterwards), against the sum of an in-memory search over the same rows (a
 *     KnnIndex, timed without its loading) and the file's own read time (a sweep of readRows);
 *   - the same knn as 2 shards on a local Ray cluster (examples/ray/driver.py), where Ray is
 *     installed in .cache/ray-venv (the Ray spec installs it), against the one process;
 *   - `tripletkit mine-negatives` of Q' queries against an M × 384 corpus, its peak memory
 *     beyond the process at start and the queries.
 *
 *   npm run bench:scale                          # the full sizes: N = 20,000,000 (10 GB), Q = 10,000; M = 1,000,000, Q' = 100,000
 *   tsx bench/scale-corpus.ts --fraction 0.1     # the same at a tenth of the corpus rows and queries
 */
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KnnIndex, writeNpy } from '../index'
import { main as cli } from '../src/cli/main'
import { seeded } from '../src/linalg'
import { openNpy } from '../src/npyFile'
import { writeSection } from './sections'

const HEADING = '## Corpus on disk'
const root = join(__dirname, '..')
const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}
const fraction = arg('--fraction', 1)
const KNN = { rows: Math.round(20_000_000 * fraction), queries: Math.round(10_000 * fraction), dim: 128, k: 10 }
const MINE = { rows: Math.round(1_000_000 * fraction), queries: Math.round(100_000 * fraction), dim: 384 }

/** Writes a rows × dim float32 `.npy` of uniform values in blocks, never holding more than one. */
function writeCorpus(path: string, rows: number, dim: number, seed: number): void {
  const random = seeded(seed)
  const header = writeNpy({ data: new Float32Array(0), shape: [0, dim] })
  const text = Buffer.from(header).toString('latin1')
  const shape = `(${rows}, ${dim})`
  const fixed = Buffer.from(text.replace(`(0, ${dim})`, shape).replace(' '.repeat(shape.length - `(0, ${dim})`.length) + '\n', '\n'), 'latin1')
  const fd = openSync(path, 'w')
  writeSync(fd, fixed)
  const block = 65_536
  for (let start = 0; start < rows; start += block) {
    const n = Math.min(block, rows - start)
    const data = Float32Array.from({ length: n * dim }, () => random() * 2 - 1)
    writeSync(fd, new Uint8Array(data.buffer))
  }
  closeSync(fd)
}

/** One timed run in this process (a child): prints its seconds and peak resident bytes. */
async function child(kind: string, args: string[]): Promise<void> {
  const t0 = process.hrtime.bigint()
  let seconds: number | undefined
  if (kind === 'cli') {
    const code = await cli(args)
    if (code !== 0) throw new Error(`tripletkit ${args.join(' ')}: exit ${code}`)
  } else if (kind === 'read') {
    const file = openNpy(args[0])
    const rows = file.shape[0], step = Math.max(1, Math.floor(2 ** 26 / (file.shape[1] ?? 1)))
    for (let s = 0; s < rows; s += step) file.readRows(s, Math.min(rows, s + step))
    file.close()
  } else if (kind === 'memory') {
    const [queries, corpus] = args.map(openNpy)
    const index = new KnnIndex({ device: 'cpu' })
    const rows = corpus.shape[0], step = 1_000_000
    for (let s = 0; s < rows; s += step) {
      const e = Math.min(rows, s + step)
      index.add({ data: corpus.readRows(s, e) as Float32Array, rows: e - s, cols: corpus.shape[1] })
    }
    const q = { data: queries.readRows(0, queries.shape[0]) as Float32Array, rows: queries.shape[0], cols: queries.shape[1] }
    const t1 = process.hrtime.bigint()
    await index.search(q, { k: KNN.k, batchSize: q.rows })
    seconds = Number(process.hrtime.bigint() - t1) / 1e9
  }
  seconds ??= Number(process.hrtime.bigint() - t0) / 1e9
  process.stdout.write(`\n${JSON.stringify({ seconds, peakBytes: process.resourceUsage().maxRSS * 1024 })}\n`)
}

interface Timed { seconds: number; peakBytes: number }

function timed(kind: string, args: string[]): Timed {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', kind, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 2 ** 26 })
  if (r.status !== 0) throw new Error(`${kind} failed: exit ${r.status}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Timed
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`
const s = (x: number): string => `${x.toFixed(1)} s`

/** The Ray driver run of the knn, or why it did not run. */
function rayRun(dir: string, q: string, c: string): Timed | string {
  const python = join(root, '.cache', 'ray-venv', 'bin', 'python')
  const driver = join(root, 'examples', 'ray', 'driver.py')
  if (!existsSync(python) || !existsSync(driver)) return 'not run: no Ray in .cache/ray-venv (the Ray spec installs it)'
  const t0 = process.hrtime.bigint()
  const r = spawnSync(python, [driver, 'knn', q, c, '--k', String(KNN.k), '--out', join(dir, 'ray.npy'), '--shards', '2', '--device', 'cpu',
    '--tripletkit', `${process.execPath} ${join(root, 'dist', 'src', 'cli', 'main.js')}`], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RAY_DISABLE_USAGE_STATS: '1' } })
  if (r.status !== 0) return `failed: exit ${r.status}`
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, peakBytes: NaN }
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'tripletkit-scale-'))
  try {
    const q = join(dir, 'q.npy'), c = join(dir, 'c.npy')
    process.stderr.write(`writing ${KNN.rows.toLocaleString('en')} × ${KNN.dim} corpus (${gib(KNN.rows * KNN.dim * 4)})\n`)
    writeCorpus(c, KNN.rows, KNN.dim, 1)
    writeCorpus(q, KNN.queries, KNN.dim, 2)
    const read = timed('read', [c])
    const streamed = timed('cli', ['knn', q, c, '--k', String(KNN.k), '--out', join(dir, 'i.npy'), '--device', 'cpu'])
    const inMemory = timed('memory', [q, c])
    const ray = rayRun(dir, q, c)
    rmSync(c)
    const mq = join(dir, 'mq.npy'), mc = join(dir, 'mc.npy'), mp = join(dir, 'mp.npy')
    writeCorpus(mc, MINE.rows, MINE.dim, 3)
    writeCorpus(mq, MINE.queries, MINE.dim, 4)
    writeFileSync(mp, writeNpy({ data: Int32Array.from({ length: MINE.queries }, (_, i) => (i * 7919) % MINE.rows) }))
    const start = timed('read', [mp])
    const mined = timed('cli', ['mine-negatives', mq, mc, mp, '--out', join(dir, 'n.npy'), '--device', 'cpu'])
    const queryBytes = MINE.queries * MINE.dim * 4
    const knnLabel = `knn ${KNN.queries.toLocaleString('en')} × ${KNN.rows.toLocaleString('en')}, d = ${KNN.dim}, k = ${KNN.k} (${gib(KNN.rows * KNN.dim * 4)} file)`
    const rows = [
      `| ${knnLabel}: \`tripletkit knn\`, default --max-memory | ${s(streamed.seconds)} | ${mib(streamed.peakBytes)} | ` +
        `in-memory search ${s(inMemory.seconds)} + file read ${s(read.seconds)} = ${s(inMemory.seconds + read.seconds)}; ratio ${(streamed.seconds / (inMemory.seconds + read.seconds)).toFixed(2)}× (goal ≤ 1.25×) |`,
      `| the same, in-memory KnnIndex (search only) | ${s(inMemory.seconds)} | ${mib(inMemory.peakBytes)} | holds the corpus |`,
      typeof ray === 'string' ? `| the same, 2 shards on a local Ray cluster | ${ray} | | |`
        : `| the same, 2 shards on a local Ray cluster (2 CPUs) + merge | ${s(ray.seconds)} | | one process: ${s(streamed.seconds)}; ratio ${(ray.seconds / streamed.seconds).toFixed(2)}× |`,
      `| mine-negatives ${MINE.queries.toLocaleString('en')} × ${MINE.rows.toLocaleString('en')}, d = ${MINE.dim} | ${s(mined.seconds)} | ${mib(mined.peakBytes)} | ` +
        `beyond the process at start and the queries: ${mib(mined.peakBytes - start.peakBytes - queryBytes)} (goal < 200 MB) |`,
    ]
    const section = [
      HEADING,
      '',
      `\`npm run bench:scale\`${fraction === 1 ? '' : ` at --fraction ${fraction}`}: a corpus file searched through the CLI, which reads it in blocks ` +
        '(cpu device, each run a process of its own; memory is its peak resident set). The file was just written, so its reads may come from the page cache.',
      '',
      '| run | time | peak memory | against |',
      '|---|---:|---:|---|',
      ...rows,
      '',
    ].join('\n')
    process.stdout.write(`${section}\n`)
    writeSection(join(__dirname, 'results.md'), HEADING, section)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const at = process.argv.indexOf('--child')
if (at >= 0) {
  child(process.argv[at + 1], process.argv.slice(at + 2)).catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
} else {
  main()
}
