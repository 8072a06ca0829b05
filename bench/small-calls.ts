/**
 * The three small calls of the performance budget, each in a 20,000-call loop, and where a
 * call's time goes:
 * - the public `…Sync` call;
 * - the addon's function called directly with arguments already converted (the TypeScript
 *   share of a call is the difference: option reading, argument checks, device choice, result
 *   shaping);
 * - a crossing of the napi boundary alone: `allFinite` of a one-value Float32Array;
 * - the core's op on the same inputs, on one thread, in Rust (`cargo run --example
 *   small_calls`), with the heap allocations it makes. The addon's call less the core's
 *   time is the binding: argument and option conversion, the crossing, the result arrays.
 * Beside them, in the same run, pytorch-metric-learning's TripletMarginLoss with its
 * BatchHardMiner and backward at N = 64, where the bench's Python has it.
 *
 * `npm run bench:small` (prints a Markdown table); `npm run bench` runs it with `--write`, which
 * also puts the table in bench/results.md.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { knnSync, mineTripletsSync, tripletLossSync } from '../index'
import { gaussian } from '../src/cli/bench'
import { seeded } from '../src/linalg'
import { loadNative } from '../src/native'
import { benchPythons } from './python'
import { writeSection } from './sections'

/** This script's section of bench/results.md (written with `--write`, as `npm run bench` runs it). */
const SMALL_HEADING = '## Small calls'

const CALLS = 20_000
const N = 64
const D = 128

/** µs a call of `f` over one loop of CALLS. */
function loop(f: () => unknown): number {
  const t = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) f()
  return Number(process.hrtime.bigint() - t) / 1e3 / CALLS
}

/**
 * µs a call of each of `fs`, best of three loops each, after a warm-up. The loops alternate
 * round by round, so that a slow spell of the machine falls on all of them alike (the
 * TypeScript share is a difference of two of them).
 */
function perCall(...fs: (() => unknown)[]): number[] {
  for (const f of fs) for (let i = 0; i < 2_000; i++) f()
  const best = fs.map(() => Infinity)
  for (let round = 0; round < 3; round++) {
    fs.forEach((f, i) => { best[i] = Math.min(best[i], loop(f)) })
  }
  return best
}

interface Core { us: number; allocations: number; bytes: number }

/** The core's share, from the Rust example (undefined without cargo). */
function core(): Record<string, Core> | undefined {
  const root = join(__dirname, '..')
  const r = spawnSync('cargo', ['run', '-q', '--release', '-p', 'tripletkit-core', '--example', 'small_calls'], { cwd: root, encoding: 'utf8' })
  if (r.status !== 0) return undefined
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, Core>
}

/** pytorch-metric-learning's batch-hard loss with backward at N = 64, µs a call. */
function pml(): number | undefined {
  const script = [
    'import time, torch, numpy as np',
    'from pytorch_metric_learning import losses, miners',
    'torch.set_num_threads(1)',
    `x = torch.tensor(np.random.default_rng(1).standard_normal((${N}, ${D}), dtype=np.float32), requires_grad=True)`,
    `y = torch.arange(${N}) % 2`,
    'miner, loss_fn = miners.BatchHardMiner(), losses.TripletMarginLoss(margin=0.2)',
    'def f():',
    '    x.grad = None',
    '    loss_fn(x, y, miner(x, y)).backward()',
    'for _ in range(200): f()',
    't = time.perf_counter()',
    'for _ in range(2000): f()',
    'print((time.perf_counter() - t) / 2000 * 1e6)',
  ].join('\n')
  for (const exe of benchPythons()) {
    const r = spawnSync(exe, ['-c', script], { encoding: 'utf8' })
    if (r.status === 0) return Number(r.stdout.trim())
  }
  return undefined
}

function main(): void {
  const load = loadNative()
  if (!load.ok) throw new Error(`the native addon is not loaded: ${load.error.message}`)
  const native = load.binding
  const x = gaussian(N, D, seeded(1))
  const y = gaussian(N, D, seeded(2))
  const labels = Int32Array.from({ length: N }, (_, i) => i % 2)
  const one = new Float32Array(1)
  const calls = [
    {
      id: 'tripletLoss', label: `tripletLossSync batch-hard, N = ${N}`, budget: 40,
      api: () => tripletLossSync(x, labels, { device: 'cpu' }),
      addon: () => native.tripletLoss(x.data, N, D, labels, { device: 'cpu' }),
    },
    {
      id: 'semihard', label: `mineTripletsSync batch-semihard, N = ${N}`, budget: 60,
      api: () => mineTripletsSync(x, labels, { strategy: 'batch-semihard', device: 'cpu' }),
      addon: () => native.mineTriplets(x.data, N, D, labels, { strategy: 'batch-semihard', device: 'cpu' }),
    },
    {
      id: 'knn', label: `knnSync ${N} × ${N}, k = 10`, budget: 30,
      api: () => knnSync(x, y, { k: 10, device: 'cpu' }),
      addon: () => native.knn(x.data, N, y.data, N, D, { device: 'cpu' }, { k: 10 }),
    },
  ]
  const [crossing] = perCall(() => native.allFinite(one))
  const inCore = core()
  const torch = pml()
  const f = (us: number | undefined): string => (us === undefined ? '—' : `${us.toFixed(1)} µs`)
  const rows = calls.map((c) => {
    const [api, addon] = perCall(c.api, c.addon)
    const k = inCore?.[c.id]
    const glue = k === undefined ? undefined : addon - k.us
    const allocs = k === undefined ? '—' : `${k.allocations.toFixed(0)} (${(k.bytes / 1024).toFixed(0)} KiB)`
    const vsTorch = c.id === 'tripletLoss' && torch !== undefined ? `${f(torch)} (${(torch / api).toFixed(1)}×)` : '—'
    return `| ${c.label} | ${f(api)} | ${c.budget} µs | ${f(api - addon)} | ${f(glue)} | ${f(k?.us)} | ${allocs} | ${vsTorch} |`
  })
  const table = [
    `${CALLS.toLocaleString('en')}-call loops (best of three, the public call's and the addon's alternating), d = ${D}; a crossing of the napi boundary alone (allFinite of one value): ${f(crossing)}.`,
    '',
    '| call | a call | budget | TypeScript | binding (napi, conversions, results) | core | core allocations a call | pytorch-metric-learning |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n')
  process.stdout.write(table)
  if (process.argv.includes('--write')) {
    writeSection(join(__dirname, 'results.md'), SMALL_HEADING, `${SMALL_HEADING}\n\n\`npm run bench\` (\`bench/small-calls.ts\`, in a process of its own): ${table}`)
  }
}

main()
