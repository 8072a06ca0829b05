/** `tripletkit bench`: each op on the native cpu device against the js reference, same inputs, same run. */
import { performance } from 'node:perf_hooks'
import { backends } from '../device'
import { knnSync } from '../knn'
import { mineTripletsSync } from '../mining'
import { pairwiseDistancesSync } from '../pairwise'
import { tripletLossSync } from '../loss'
import { seeded } from '../linalg'
import type { Matrix } from '../types'
import { progress } from './progress'

/** A rows × cols matrix of standard normal values from `random`. */
export function gaussian(rows: number, cols: number, random: () => number): Matrix {
  const data = new Float32Array(rows * cols)
  for (let i = 0; i < data.length; i++) data[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  return { data, rows, cols }
}

/** Median milliseconds of one call of `f`: `reps` timed runs of `inner` calls, after a warm-up. */
export function time(f: () => unknown, reps: number, inner = 1): number {
  f()
  const ms: number[] = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    for (let i = 0; i < inner; i++) f()
    ms.push((performance.now() - t0) / inner)
  }
  return ms.sort((a, b) => a - b)[Math.floor(reps / 2)]
}

/** Runs the benchmark and returns its table in markdown. */
export function benchCommand(o: { quiet: boolean; reps: number }): string {
  const random = seeded(1)
  const x = gaussian(1024, 128, random)
  const corpus = gaussian(5000, 128, random)
  const labels = Int32Array.from({ length: 1024 }, (_, i) => i % 64)
  const cases: Array<[string, (device: 'cpu' | 'js') => unknown]> = [
    ['pairwiseDistances 1024 × 1024, d = 128', (device) => pairwiseDistancesSync(x, null, { device })],
    ['knn 1024 queries × 5000, d = 128, k = 10', (device) => knnSync(x, corpus, { k: 10, device })],
    ['tripletLoss batch-hard, N = 1024, d = 128', (device) => tripletLossSync(x, labels, { mining: 'batch-hard', device })],
    ['mineTriplets batch-semihard, N = 1024, d = 128', (device) => mineTripletsSync(x, labels, { strategy: 'batch-semihard', device })],
  ]
  const native = backends().cpu.available
  const bar = progress('bench', o.quiet)
  const rows: string[] = []
  cases.forEach(([name, run], i) => {
    const js = time(() => run('js'), o.reps)
    const cpu = native ? time(() => run('cpu'), o.reps) : NaN
    rows.push(`| ${name} | ${native ? cpu.toFixed(2) : 'n/a'} | ${js.toFixed(2)} | ${native ? `${(js / cpu).toFixed(1)}×` : 'n/a'} |`)
    bar.update(i + 1, cases.length)
  })
  bar.stop()
  const threads = backends().cpu.threads ?? 0
  return [
    `tripletkit bench: median of ${o.reps} runs, ms; cpu on ${threads} threads${native ? '' : ' (native addon not loaded)'}`,
    '',
    '| op | cpu | js | js / cpu |',
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n')
}
