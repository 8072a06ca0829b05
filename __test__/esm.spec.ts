import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

// The built package (dist/, made by `npm install` / `npm ci` through the prepare script) loads by
// its own name from both module systems. Node resolves 'tripletkit' from inside the package
// itself through package.json "exports" (self-reference), exactly as a user's import would.
const root = path.resolve(__dirname, '..')
const FUNCTIONS = [
  'matrix', 'backends',
  'pairwiseDistances', 'pairwiseDistancesSync', 'knn', 'knnSync', 'mineTriplets', 'mineTripletsSync',
  'tripletLoss', 'tripletLossSync', 'tripletMarginLoss', 'tripletMarginLossSync', 'retrievalMetrics', 'retrievalMetricsSync',
]

// Uses the module `t`, prints one JSON line: the typeof of every function and a small computation.
const BODY = `
  const names = ${JSON.stringify(FUNCTIONS)}
  const types = Object.fromEntries(names.map((n) => [n, typeof t[n]]))
  const x = t.matrix([[0], [1], [3]])
  const sync = Array.from(t.knnSync(x, x, { k: 1, excludeSelf: true }).indices)
  t.knn(x, x, { k: 1, excludeSelf: true }).then((r) => {
    const loss = t.tripletLossSync([[0], [2], [4], [7]], [0, 0, 1, 1], { margin: 1, reduction: 'sum' }).loss
    console.log(JSON.stringify({ types, sync, async: Array.from(r.indices), loss, cpu: t.backends().cpu.available }))
  })
`

function run(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function check(t: import('ava').ExecutionContext, out: { status: number | null; stdout: string; stderr: string }) {
  t.is(out.status, 0, out.stderr)
  if (out.status !== 0) return
  const r = JSON.parse(out.stdout.trim().split('\n').pop()!)
  for (const n of FUNCTIONS) t.is(r.types[n], 'function', n)
  t.deepEqual(r.sync, [1, 0, 1])
  t.deepEqual(r.async, [1, 0, 1])
  t.is(r.loss, 3)
  t.true(r.cpu, 'the native addon loads from the built package')
}

test('the build exists: dist/ with CommonJS and ESM entries and their types', (t) => {
  for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts']) t.true(existsSync(path.join(root, f)), `${f} (run npm run build)`)
})

test("import * as t from 'tripletkit' (ESM) exposes every function, and they work", (t) => {
  check(t, run(['--input-type=module', '-e', `import * as t from 'tripletkit'\n${BODY}`]))
})

test("import { … } from 'tripletkit' (ESM named imports) works", (t) => {
  const out = run(['--input-type=module', '-e', `import { knnSync, matrix } from 'tripletkit'\nconsole.log(JSON.stringify(Array.from(knnSync(matrix([[0], [5], [1]]), [[0], [5]], { k: 1 }).indices)))`])
  t.is(out.status, 0, out.stderr)
  t.is(out.stdout.trim(), '[0,1,0]')
})

test("require('tripletkit') (CommonJS) exposes every function, and they work", (t) => {
  check(t, run(['-e', `const t = require('tripletkit')\n${BODY}`]))
})

test('a Promise from the built package rejects with an AbortError when aborted', (t) => {
  const out = run([
    '--input-type=module',
    '-e',
    `import { knn } from 'tripletkit'
     knn([[0]], [[1]], { k: 1, signal: AbortSignal.abort() }).then(
       () => console.log('resolved'),
       (e) => console.log(e instanceof DOMException ? e.name : 'other: ' + e))`,
  ])
  t.is(out.status, 0, out.stderr)
  t.is(out.stdout.trim(), 'AbortError')
})
