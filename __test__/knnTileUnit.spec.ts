import test from 'ava'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { knnSync } from '../index'
import { distScale, distTol, knnProblems } from './helpers/compare'
import { duplicateSome, gaussianRows } from './helpers/data'
import { knn as oracleKnn } from './helpers/oracle'
import { Rng } from './helpers/prng'

// Searches large enough (from 2²⁸ multiply-adds) for the cpu device to take the tile-unit path
// where the CPU has one (bfloat16 bounds, then exact distances for the candidates they leave),
// run in child processes with the unit on and off (TRIPLETKIT_AMX=off): the lists must be the
// same bits. Batch-hard mining's nearest negatives go the same way.
const root = path.resolve(__dirname, '..')

function run(env: Record<string, string>): string {
  const script = `
    const { knnSync, mineTripletsSync, tripletLossSync } = require('./index')
    let s = 977
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) - 0.5
    const out = []
    // Odd sizes, each metric; near-duplicate rows (every 7th corpus row copies a query, scaled
    // by 1 + 1e-7) and a row far larger than the rest.
    for (const [nq, nc, d, metric, k, excludeSelf] of [
      [97, 43001, 67, 'euclidean', 10, false],
      [130, 16049, 129, 'sqeuclidean', 1, false],
      [61, 46003, 96, 'cosine', 33, false],
      [300, 22000, 41, 'dot', 7, false],
      [1700, 1700, 97, 'euclidean', 5, true],
    ]) {
      const q = new Float32Array(nq * d).map(rand)
      const c = excludeSelf ? q : new Float32Array(nc * d).map(rand)
      if (!excludeSelf) for (let j = 0; j < nc; j += 7) for (let x = 0; x < d; x++) c[j * d + x] = q[(j % nq) * d + x] * (1 + 1e-7)
      c[5 * d] = 1e8
      const r = knnSync({ data: q, rows: nq, cols: d }, { data: c, rows: nc, cols: d }, { k, metric, excludeSelf, device: 'cpu' })
      out.push(Buffer.from(r.indices.buffer).toString('base64'), Buffer.from(r.distances.buffer).toString('base64'))
    }
    // Batch-hard over 2,100 rows in 37 classes, with duplicate rows (ties between negatives).
    const n = 2100, d = 65
    const x = new Float32Array(n * d).map(rand)
    x.copyWithin(0, 50 * d, 150 * d)
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 37)
    const mined = mineTripletsSync({ data: x, rows: n, cols: d }, labels, { strategy: 'batch-hard', device: 'cpu' })
    for (const a of [mined.anchor, mined.positive, mined.negative]) out.push(Buffer.from(a.buffer).toString('base64'))
    const loss = tripletLossSync({ data: x, rows: n, cols: d }, labels, { device: 'cpu' })
    out.push(String(loss.loss), Buffer.from(loss.grad.data.buffer).toString('base64'))
    console.log(JSON.stringify(out))
  `
  const child = spawnSync(process.execPath, ['--import=tsx', '-e', script], { cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } })
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`)
  return child.stdout.trim().split('\n').pop()!
}

test('cpu knn and batch-hard mining give the same bits with and without the tile unit', (t) => {
  const on = run({})
  const off = run({ TRIPLETKIT_AMX: 'off' })
  t.is(on, off)
})

test('cpu knn on a tile-unit shape agrees with the float64 reference', (t) => {
  const rng = new Rng(31)
  const q = gaussianRows(rng, 83, 65)
  const c = duplicateSome(rng, gaussianRows(rng, 50001, 65), 3000)
  const r = knnSync(q, c, { k: 12, device: 'cpu' })
  const want = oracleKnn(q, c, { k: 12 })
  t.deepEqual(knnProblems(r.indices, want.indices.flat(), want.D, 12, distTol(distScale('euclidean', false, q, c))), [])
})

