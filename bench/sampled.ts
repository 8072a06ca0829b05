/**
 * npm run bench:sampled: sampled set mining (`sample: { count, seed }`) at the sizes where the
 * whole set cannot be held: 'all' over a batch of 4,096 rows (d = 128, 128 classes of 32, about
 * 5.2 × 10⁸ triplets) sampled to 10⁶, the same batch against a 65,536-row reference set of the
 * same classes (about 1.4 × 10¹¹ triplets), and a batch of 512 where the whole set fits, each on
 * the cpu device in a process of its own (time, and peak memory beyond the process and its
 * inputs). Beside each, in the same run, pytorch-metric-learning's
 * TripletMarginMiner(type_of_triplets='all') on the same shapes (bench/sampled_baseline.py, in
 * the Python that TRIPLETKIT_BENCH_PYTHON names or the PATH's), or why it did not run. Prints a
 * markdown table and writes it as the "Sampled mining" section of bench/results.md.
 *
 *   npm run bench:sampled              # every row (the reference row takes minutes)
 *   npm run bench:sampled -- --quick   # leaves the reference row out, writes nothing
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { mineTriplets } from '../index'
import { gaussian } from '../src/cli/bench'
import { seeded } from '../src/linalg'
import { childOrMain, inChild } from './children'
import { writeSection } from './sections'

const quick = process.argv.includes('--quick')
const HEADING = '## Sampled mining'
const D = 128

interface Case { id: string; label: string; n: number; classes: number; ref: number; count?: number }
const cases: Case[] = [
  { id: 'batch-512', label: "'all', N = 512, 32 classes, the whole set", n: 512, classes: 32, ref: 0 },
  { id: 'batch-512-sampled', label: "'all', N = 512, 32 classes, sampled to 10⁵", n: 512, classes: 32, ref: 0, count: 100_000 },
  { id: 'batch', label: "'all', N = 4,096, 128 classes, sampled to 10⁶", n: 4096, classes: 128, ref: 0, count: 1_000_000 },
  ...(quick ? [] : [{ id: 'reference', label: "'all', N = 4,096 against a 65,536-row reference, sampled to 10⁶", n: 4096, classes: 128, ref: 65_536, count: 1_000_000 }]),
]

/** The size of the 'all' set: per anchor, its class's other rows times the other classes' rows. */
function setSize(c: Case): number {
  const per = c.n / c.classes
  if (c.ref === 0) return c.n * (per - 1) * (c.n - per)
  const refPer = c.ref / c.classes
  return c.n * refPer * (c.ref - refPer)
}

/** One case in this process (a child): prints one JSON line with its time, triplets and memory. */
async function child(id: string): Promise<void> {
  const c = cases.find((k) => k.id === id) ?? cases.find((k) => k.id === 'reference')!
  const random = seeded(7)
  const x = gaussian(c.n, D, random)
  const labels = Int32Array.from({ length: c.n }, (_, i) => i % c.classes)
  const reference = c.ref === 0 ? {} : { reference: gaussian(c.ref, D, random), referenceLabels: Int32Array.from({ length: c.ref }, (_, i) => i % c.classes) }
  const start = process.memoryUsage().rss
  const t0 = process.hrtime.bigint()
  const t = await mineTriplets(x, labels, { strategy: 'all', device: 'cpu', ...reference, ...(c.count === undefined ? {} : { sample: { count: c.count, seed: 1 } }) })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  process.stdout.write(`${JSON.stringify({ seconds, triplets: t.length, beyond: process.resourceUsage().maxRSS * 1024 - start })}\n`)
}

function pml(c: Case): { ms?: number; triplets?: number; peak_mib?: number; error?: string; versions?: string } {
  const chosen = process.env.TRIPLETKIT_BENCH_PYTHON
  for (const exe of [...(chosen ? [chosen] : []), join(__dirname, '..', '.cache', 'bench-venv', 'bin', 'python'), 'python3']) {
    const r = spawnSync(exe, [join(__dirname, 'sampled_baseline.py')], { input: JSON.stringify({ n: c.n, d: D, classes: c.classes, ref: c.ref }), encoding: 'utf8', timeout: 1_800_000 })
    if (r.error !== undefined) continue
    const last = r.stdout.trim().split('\n').pop() ?? ''
    if (r.status === 0 && last.startsWith('{')) {
      const out = JSON.parse(last) as ReturnType<typeof pml>
      if (out.error?.startsWith('not installed') !== true) return out
    } else if (r.signal !== null) {
      return { error: `killed by ${r.signal} (out of memory)` }
    }
  }
  return { error: 'not installed' }
}

function main(): void {
  const rows: string[] = []
  let versions = ''
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`
  for (const c of cases) {
    process.stderr.write(`${c.label}\n`)
    const { seconds, triplets, beyond } = inChild(__filename, c.id, quick)
    const p = pml(c)
    if (p.versions !== undefined) versions = p.versions
    const theirs = p.ms === undefined ? (p.error ?? '—')
      : `${(p.ms / 1000).toFixed(2)} s, ${p.triplets?.toLocaleString('en')} triplets, ${p.peak_mib?.toFixed(0)} MiB (${(p.ms / 1000 / seconds).toFixed(1)}× ours)`
    rows.push(`| ${c.label} | ${setSize(c).toExponential(2)} | ${triplets.toLocaleString('en')} | ${seconds.toFixed(2)} s | ${mib(beyond)} | ${theirs} |`)
  }
  const section = [
    HEADING,
    '',
    "`npm run bench:sampled`: `mineTriplets(x, labels, { strategy: 'all', sample: { count, seed: 1 } })` on the cpu device, d = 128, " +
      'each in a process of its own; memory is the peak resident set beyond the process with its inputs. Beside it, in the same run, ' +
      `pytorch-metric-learning's TripletMarginMiner(type_of_triplets='all') on the same shapes, one thread${versions === '' ? '' : ` (${versions})`}: ` +
      'it builds the whole N × N × N (or N × M × M) mask of candidate triplets, so it runs out of memory where the set is large (its \'all\' also drops triplets with m > margin, 0.2 here, so it keeps fewer).',
    '',
    '| run | set size | triplets kept | time | memory beyond inputs | pytorch-metric-learning |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n')
  process.stdout.write(`${section}\n`)
  if (quick) return
  writeSection(join(__dirname, 'results.md'), HEADING, section)
}

childOrMain(child, main)
