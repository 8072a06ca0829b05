// A/B of two builds of the addon in one process: both loaded, their calls interleaved round
// by round, medians compared. For a change to the glue or to an op's composition, where two
// whole-bench runs would differ by more than the change (the machine is noisy).
//
//   node bench/addons-ab.cjs OLD.node NEW.node
//
// An older build: `git worktree add /tmp/old REV`, `cargo build -p tripletkit-node --release`
// there, and its target/release/libtripletkit_node.so is OLD.node.
'use strict'
const [oldPath, newPath] = process.argv.slice(2)
if (!oldPath || !newPath) {
  console.error('usage: node bench/addons-ab.cjs OLD.node NEW.node')
  process.exit(2)
}
// A .node file loads through require.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const builds = [['old', require(oldPath)], ['new', require(newPath)]]

/** Seeded rows: sin/cos waves with a per-class offset, so classes are apart but overlap. */
function rows(n, d, classes, phase) {
  return Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * phase) + ((i / d | 0) % classes) * 0.1)
}

/** [name (the export first), repetitions a round, the call] */
function cases() {
  const small = rows(4, 8, 2, 1.0), labels4 = Int32Array.of(0, 1, 0, 1)
  const n = 1024, d = 64, x = rows(n, d, 32, 1.3), p = rows(n, d, 32, 0.7)
  const labels = Int32Array.from({ length: n }, (_, i) => i % 32)
  const big = 16384, xb = rows(big, d, 2, 0.37), two = Int32Array.from({ length: big }, (_, i) => i % 2)
  const q64 = rows(64, 128, 8, 0.91), c10k = rows(10_000, 128, 8, 0.53)
  const q1k = rows(1000, 128, 8, 0.29), c100k = rows(100_000, 128, 8, 0.61)
  return [
    ['knn, 64 × 10,000, d = 128, k = 10 (ms)', 1, (m) => m.knn(q64, 64, c10k, 10_000, 128, null, { k: 10 })],
    ['knn, 1,000 × 100,000, d = 128, k = 10 (ms)', 1, (m) => m.knn(q1k, 1000, c100k, 100_000, 128, null, { k: 10 })],
    ['pairwiseDistances, 4 rows (µs)', 20000, (m) => m.pairwiseDistances(small, 4, null, 0, 8, {})],
    ['tripletLoss, 4 rows (µs)', 20000, (m) => m.tripletLoss(small, 4, 8, labels4, { margin: 0.2 })],
    ['supConLoss, N = 1,024 (ms)', 1, (m) => m.supConLoss(x, n, d, labels, { temperature: 0.1 })],
    ['multipleNegativesRankingLoss, N = 1,024 (ms)', 1, (m) => m.multipleNegativesRankingLoss(x, p, n, null, 0, d, { scale: 20 })],
    ['retrievalMetrics, N = 16,384 in 2 classes (ms)', 1, (m) => m.retrievalMetrics(xb, big, two, null, 0, null, d, { k: 1 })],
  ]
}

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1]
for (const [name, reps, call] of cases()) {
  const op = name.split(',')[0]
  const missing = builds.filter(([, m]) => typeof m[op] !== 'function').map(([tag]) => tag)
  if (missing.length > 0) {
    console.log(`${name}: skipped (the ${missing.join(' and ')} build has no ${op})`)
    continue
  }
  const times = { old: [], new: [] }
  const rounds = reps > 1 ? 10 : 6
  for (let round = 0; round < rounds; round++) {
    for (const [tag, m] of round % 2 ? builds : [...builds].reverse()) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < reps; i++) call(m)
      const ns = Number(process.hrtime.bigint() - start) / reps
      times[tag].push(reps > 1 ? ns / 1e3 : ns / 1e6)
    }
  }
  const [o, n2] = [median(times.old), median(times.new)]
  console.log(`${name}: old ${o.toFixed(2)}, new ${n2.toFixed(2)}, new ÷ old ${(n2 / o).toFixed(2)}`)
}
