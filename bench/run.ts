/**
 * npm run bench: every op at a small (N = 64), a training (N = 1024–8192) and a large size,
 * tripletkit's cpu device against what a user would pick instead, in the same run: the js
 * reference, usearch's exactSearch (knn), TensorFlow.js on its CPU backend doing the same maths,
 * and, when a Python with them is present, NumPy and pytorch-metric-learning. Medians of
 * repetitions; each alternative's time is followed by its ratio to tripletkit's. Prints a
 * markdown table and writes it to bench/results.md.
 *
 *   npm run bench               # the table
 *   npm run bench -- --quick    # small and training sizes only
 */
import * as tf from '@tensorflow/tfjs'
import { spawnSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exactSearch, MetricKind } from 'usearch'
import {
  backends, knnSync, mineTripletsSync, pairwiseDistancesSync, retrievalMetricsSync, supConLossSync, tripletLossSync, type Matrix,
} from '../index'
import { gaussian, time } from '../src/cli/bench'
import { seeded } from '../src/linalg'
import { benchPythons } from './python'

/** This machine kind's practical float32 peak (NumPy/OpenBLAS on a 4096³ product), for the flop bound. */
const PEAK_FLOPS = 330e9
const quick = process.argv.includes('--quick')
/** `--only ID`: the cases whose id starts with ID (results.md is then left as it is). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined

interface Case { id: string; op: string; label: string; n: number; m: number; d: number; k: number; perClass?: number; large?: boolean }

const cases: Case[] = ([
  ...[64, 1024, 4096].map((n) => ({ id: `pairwise-${n}`, op: 'pairwise', label: `pairwiseDistances, N = ${n}`, n, m: n, d: 128, k: 0 })),
  { id: 'knn-64', op: 'knn', label: 'knn 64 × 64, k = 10', n: 64, m: 64, d: 128, k: 10 },
  { id: 'knn-64x10k', op: 'knn', label: 'knn 64 × 10,000, k = 10', n: 64, m: 10_000, d: 128, k: 10 },
  { id: 'knn-1024', op: 'knn', label: 'knn 1,024 × 10,000, k = 10', n: 1024, m: 10_000, d: 128, k: 10 },
  { id: 'knn-1000x100k', op: 'knn', label: 'knn 1,000 × 100,000, k = 10', n: 1000, m: 100_000, d: 128, k: 10, large: true },
  { id: 'knn-1000x100k-768', op: 'knn', label: 'knn 1,000 × 100,000, d = 768', n: 1000, m: 100_000, d: 768, k: 10, large: true },
  { id: 'knn-10kx200k', op: 'knn', label: 'knn 10,000 × 200,000, k = 10', n: 10_000, m: 200_000, d: 128, k: 10, large: true },
  ...[64, 1024, 8192].map((n) => ({ id: `loss-${n}`, op: 'loss-batch-hard', label: `tripletLoss batch-hard, N = ${n}`, n, m: n, d: 128, k: 0 })),
  ...[64, 1024, 8192, 32768].map((n) => ({ id: `mine-${n}`, op: 'mine-batch-hard', label: `mineTriplets batch-hard, N = ${n}`, n, m: n, d: 128, k: 0, large: n > 8192 })),
  ...[64, 1024, 8192, 32768].map((n) => ({ id: `semi-${n}`, op: 'mine-batch-semihard', label: `mineTriplets batch-semihard, N = ${n}`, n, m: n, d: 128, k: 0, large: n > 8192 })),
  // The mining shapes: N = 16,384 with 16, 32 and 128 rows a class.
  ...(['mine-batch-hard', 'mine-batch-semihard'] as const).flatMap((op) => [16, 32, 128].map((per) => ({
    id: `${op === 'mine-batch-hard' ? 'mine' : 'semi'}-16k-${per}`, op, label: `mineTriplets ${op.slice(5)}, N = 16,384, ${per} a class`, n: 16_384, m: 16_384, d: 128, k: 0, perClass: per, large: true,
  }))),
  ...[1024, 8192].map((n) => ({ id: `retrieval-${n}`, op: 'retrieval', label: `retrievalMetrics, N = ${n}`, n, m: n, d: 128, k: 0 })),
  ...[64, 1024, 4096].map((n) => ({ id: `supcon-${n}`, op: 'supcon', label: `supConLoss, N = ${n}`, n, m: n, d: 128, k: 0 })),
] as Case[]).filter((c) => (!quick || c.large !== true) && (only === undefined || c.id.startsWith(only)))

/** tfjs doing the same maths on its CPU backend: distances by matMul, top-k, masked extremes. */
function tfjsOp(c: Case, x: Matrix, y: Matrix, labels: Int32Array): (() => unknown) | undefined {
  if (c.n * c.m * c.d > 2e9) return undefined
  const X = tf.tensor2d(x.data, [x.rows, x.cols])
  const Y = tf.tensor2d(y.data, [y.rows, y.cols])
  const L = tf.tensor1d(labels, 'int32')
  const dist = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.tidy(() =>
    tf.sqrt(tf.relu(tf.add(tf.sub(tf.sum(tf.square(a), 1, true), tf.mul(2, tf.matMul(a, b, false, true))), tf.transpose(tf.sum(tf.square(b), 1, true))))) as tf.Tensor2D)
  const batchHard = (e: tf.Tensor2D): tf.Scalar => {
    const d = dist(e, e)
    const same = tf.equal(tf.expandDims(L, 1), tf.expandDims(L, 0))
    const pos = tf.max(tf.where(same, d, tf.fill(d.shape, -Infinity)), 1)
    const neg = tf.min(tf.where(same, tf.fill(d.shape, Infinity), d), 1)
    return tf.mean(tf.relu(tf.add(tf.sub(pos, neg), 0.2)))
  }
  // SupConLoss with τ = 0.1: cosine similarities, a log-softmax over the other rows, the mean
  // over each anchor's positives, the mean over the anchors whose loss is > 0.
  const supCon = (e: tf.Tensor2D): tf.Scalar => {
    const unit = tf.div(e, tf.maximum(tf.norm(e, 2, 1, true), 1e-12))
    const s = tf.div(tf.matMul(unit, unit, false, true), 0.1)
    const eye = tf.cast(tf.eye(e.shape[0]), 'bool')
    const pos = tf.logicalAnd(tf.equal(tf.expandDims(L, 1), tf.expandDims(L, 0)), tf.logicalNot(eye))
    const logProb = tf.sub(s, tf.logSumExp(tf.where(eye, tf.fill(s.shape, -Infinity), s), 1, true))
    const count = tf.sum(tf.cast(pos, 'float32'), 1)
    const l = tf.neg(tf.div(tf.sum(tf.where(pos, logProb, tf.zerosLike(logProb)), 1), tf.maximum(count, 1)))
    const active = tf.step(l)
    return tf.div(tf.sum(tf.mul(l, active)), tf.maximum(tf.sum(active), 1))
  }
  switch (c.op) {
    case 'pairwise': return () => tf.tidy(() => dist(X, X).dataSync())
    case 'knn': return () => tf.tidy(() => tf.topk(tf.neg(dist(X, Y)), c.k).indices.dataSync())
    case 'mine-batch-hard': return () => tf.tidy(() => batchHard(X).dataSync())
    case 'loss-batch-hard': return () => tf.tidy(() => tf.grad((e: tf.Tensor) => batchHard(e as tf.Tensor2D))(X as tf.Tensor).dataSync())
    case 'supcon': return () => tf.tidy(() => tf.grad((e: tf.Tensor) => supCon(e as tf.Tensor2D))(X as tf.Tensor).dataSync())
    default: return undefined
  }
}

/** tripletkit on a device, and whether the js reference is worth timing at this size. */
function ours(c: Case, x: Matrix, y: Matrix, labels: Int32Array, device: 'cpu' | 'js'): () => unknown {
  switch (c.op) {
    case 'pairwise': return () => pairwiseDistancesSync(x, null, { device })
    case 'knn': return () => knnSync(x, y, { k: c.k, device })
    case 'mine-batch-hard': return () => mineTripletsSync(x, labels, { strategy: 'batch-hard', device })
    case 'mine-batch-semihard': return () => mineTripletsSync(x, labels, { strategy: 'batch-semihard', device })
    case 'loss-batch-hard': return () => tripletLossSync(x, labels, { mining: 'batch-hard', device })
    case 'supcon': return () => supConLossSync(x, labels, { device })
    default: return () => retrievalMetricsSync(x, labels, { device })
  }
}

// The bench's Python (bench/python.ts): NumPy, FAISS, and pytorch-metric-learning where installed.
function python(): Record<string, Record<string, number>> & { versions?: Record<string, string> } {
  for (const exe of benchPythons()) {
    const r = spawnSync(exe, [join(__dirname, 'baseline.py')], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 1_800_000 })
    if (r.status === 0) return JSON.parse(r.stdout) as ReturnType<typeof python>
  }
  return {}
}

const fmt = (ms: number | undefined): string => (ms === undefined ? '—' : ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`)
const vs = (alt: number | undefined, cpu: number): string => (alt === undefined ? '—' : `${fmt(alt)} (${(alt / cpu).toFixed(1)}×)`)

async function main(): Promise<void> {
  await tf.setBackend('cpu')
  const cpuInfo = backends().cpu
  if (!cpuInfo.available) throw new Error(`the native addon is not loaded: ${cpuInfo.reason}`)
  process.stderr.write('bench: timing NumPy, FAISS and pytorch-metric-learning where installed…\n')
  const py = python()
  // Warm every path once (JIT, thread pool, allocator) before anything is timed.
  for (const c of cases.filter((k) => k.n <= 64)) {
    const x = gaussian(c.n, c.d, seeded(1))
    for (let i = 0; i < 200; i++) ours(c, x, x, Int32Array.from({ length: c.n }, (_, j) => j % 2), 'cpu')()
  }
  const rows: string[] = []
  for (const c of cases) {
    process.stderr.write(`bench: ${c.label}\n`)
    const random = seeded(c.n * 31 + c.m)
    const x = gaussian(c.n, c.d, random)
    const y = c.op === 'knn' ? gaussian(c.m, c.d, random) : x
    const labels = Int32Array.from({ length: c.n }, (_, i) => i % Math.max(2, Math.floor(c.n / (c.perClass ?? 32))))
    const small = c.n <= 64
    const reps = small ? 9 : c.large ? 3 : 5
    const inner = small ? 100 : 1
    const cpu = time(ours(c, x, y, labels, 'cpu'), reps, inner)
    const js = c.n * c.m * c.d <= 2.2e8 ? time(ours(c, x, y, labels, 'js'), small ? 3 : 1, small ? 10 : 1) : undefined
    const us = c.op === 'knn' && c.n * c.m * c.d <= 2e10 ? time(() => exactSearch(y.data, x.data, c.d, c.k, MetricKind.L2sq), small ? 5 : reps, small ? 20 : 1) : undefined
    const tfOp = tfjsOp(c, x, y, labels)
    const tfjs = tfOp === undefined ? undefined : time(tfOp, small ? 5 : 1, small ? 10 : 1)
    // Every op here rests on the N × M distance matrix: 2·N·M·d flops.
    const bound = ((2 * c.n * c.m * c.d) / PEAK_FLOPS) * 1000
    const p = py[c.id] ?? {}
    rows.push(`| ${c.label} | ${fmt(cpu)} | ${vs(js, cpu)} | ${vs(us, cpu)} | ${vs(p.faiss, cpu)} | ${vs(tfjs, cpu)} | ${vs(p.numpy, cpu)} | ${vs(p.pml, cpu)} | ${fmt(bound)} (${(cpu / bound).toFixed(1)}×) |`)
  }
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU'
  const versions = py.versions ?? {}
  const table = [
    `# tripletkit benchmark`,
    '',
    `${cpuModel}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; tripletkit cpu on ${cpuInfo.threads} threads; Node ${process.version}; ` +
      `tfjs ${tf.version.tfjs} (cpu backend); usearch exactSearch; ` +
      (versions.numpy === undefined ? 'NumPy: not installed, skipped; ' : `NumPy ${versions.numpy}; `) +
      (versions.faiss === undefined ? 'FAISS: not installed, skipped; ' : `faiss-cpu ${versions.faiss} (IndexFlatL2, ${versions.faiss_threads} threads); `) +
      (versions.pml === undefined ? 'pytorch-metric-learning: not installed, skipped.' : `pytorch-metric-learning (${versions.pml}, 1 thread).`),
    '',
    'Median time of one call; after each alternative, its time as a multiple of tripletkit\'s (higher: tripletkit is faster). ' +
      `The flop bound is 2·N·M·d at ${PEAK_FLOPS / 1e9} GFLOP/s, and after it how far tripletkit is from it. d = 128 unless said. ` +
      'NumPy and TensorFlow.js compute the batch-hard extremes through the full N × N matrix; js is timed where it takes seconds at most.',
    '',
    '| op | tripletkit cpu | js reference | usearch | FAISS IndexFlatL2 | TensorFlow.js | NumPy | pytorch-metric-learning | flop bound |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n')
  process.stdout.write(`${table}\n`)
  if (!quick && only === undefined) {
    // Keep the scale runs' section (npm run bench:scale), which this run does not redo.
    const file = join(__dirname, 'results.md')
    const old = existsSync(file) ? readFileSync(file, 'utf8') : ''
    const at = old.indexOf('## Scale')
    writeFileSync(file, at < 0 ? table : `${table.trimEnd()}\n\n${old.slice(at)}`)
    // The small calls' 20,000-call loops, in a process of their own (no other case's heap).
    const small = spawnSync(process.execPath, [...process.execArgv, join(__dirname, 'small-calls.ts'), '--write'],
      { stdio: ['ignore', 'inherit', 'inherit'] })
    if (small.status !== 0) throw new Error(`bench/small-calls.ts failed: exit ${small.status}`)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
