/**
 * npm run bench:scale: the two scale runs of the benchmark, each in a child process of its own
 * so that its peak memory is its own: exact knn of 10,000 queries against 1,000,000 corpus rows
 * (d = 128, k = 10) and batch-hard mining of 131,072 rows (d = 128), both on the cpu device
 * with their progress shown. Prints a markdown table and writes it as the "Scale" section of
 * bench/results.md (which `npm run bench` keeps).
 *
 *   npm run bench:scale             # both runs (a few minutes)
 *   npm run bench:scale -- --quick  # an eighth of the rows, to try it
 */
import { join } from 'node:path'
import { knn, mineTriplets } from '../index'
import { gaussian } from '../src/cli/bench'
import { seeded } from '../src/linalg'
import { childOrMain, inChild } from './children'
import { writeSection } from './sections'

const quick = process.argv.includes('--quick')
const scale = quick ? 8 : 1
const SCALE_HEADING = '## Scale'

interface Job { id: string; label: string; inputBytes: number }
const D = 128
const jobs: Job[] = [
  { id: 'knn', label: `knn ${(10_000 / scale).toLocaleString('en')} × ${(1_000_000 / scale).toLocaleString('en')}, d = 128, k = 10`, inputBytes: (10_000 + 1_000_000) / scale * D * 4 },
  { id: 'batch-hard', label: `mineTriplets batch-hard, N = ${(131_072 / scale).toLocaleString('en')}, d = 128`, inputBytes: 131_072 / scale * (D * 4 + 4) },
]

/** One job, in this process (a child): prints one JSON line with its time and peak memory. */
async function child(id: string): Promise<void> {
  const random = seeded(7)
  const before = process.resourceUsage().maxRSS
  // On a terminal one line redrawn; in a log a line each tenth of the way.
  let shown = -1
  const report = (what: string) => (done: number, total: number) => {
    const tenth = Math.floor((10 * done) / total)
    if (process.stderr.isTTY) process.stderr.write(`\r${what}: ${done} / ${total}`)
    else if (tenth > shown) process.stderr.write(`${what}: ${done} / ${total}\n`)
    shown = tenth
  }
  let seconds: number
  if (id === 'knn') {
    const q = gaussian(10_000 / scale, D, random)
    const c = gaussian(1_000_000 / scale, D, random)
    const t0 = process.hrtime.bigint()
    await knn(q, c, { k: 10, device: 'cpu', batchSize: 500, onProgress: report('knn queries') })
    seconds = Number(process.hrtime.bigint() - t0) / 1e9
  } else {
    const n = 131_072 / scale
    const x = gaussian(n, D, random)
    const labels = Int32Array.from({ length: n }, (_, i) => i % (n / 8))
    const t0 = process.hrtime.bigint()
    await mineTriplets(x, labels, { strategy: 'batch-hard', device: 'cpu', onProgress: report('batch-hard anchors') })
    seconds = Number(process.hrtime.bigint() - t0) / 1e9
  }
  if (process.stderr.isTTY) process.stderr.write('\n')
  // maxRSS is in KiB: the whole process's peak, inputs and runtime included.
  process.stdout.write(`${JSON.stringify({ seconds, peakBytes: process.resourceUsage().maxRSS * 1024, startBytes: before * 1024 })}\n`)
}

function main(): void {
  const rows: string[] = []
  for (const job of jobs) {
    process.stderr.write(`${job.label}\n`)
    const { seconds, peakBytes, startBytes } = inChild(__filename, job.id, quick)
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
    rows.push(`| ${job.label} | ${seconds.toFixed(1)} s | ${mib(peakBytes)} | ${mib(job.inputBytes)} | ${(peakBytes / job.inputBytes).toFixed(2)}× | ${mib(startBytes)} |`)
  }
  const section = [
    SCALE_HEADING,
    '',
    '`npm run bench:scale`: each run in a process of its own on the cpu device, progress shown; peak memory is the process\'s ' +
      'maximum resident set (Node.js and the inputs included), set against the inputs\' own size; "at start" is the process before the run.',
    '',
    '| run | time | peak memory | inputs | peak / inputs | at start |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n')
  process.stdout.write(`${section}\n`)
  if (quick) return
  writeSection(join(__dirname, 'results.md'), SCALE_HEADING, section)
}

childOrMain(child, main)
