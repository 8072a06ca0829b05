import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

// The showcase must keep working: the demo and the README's example are run as users run them.
const root = path.resolve(__dirname, '..')

test('npm run demo: the trained network clearly beats the untrained one, and the picture is written', (t) => {
  const svg = path.join(mkdtempSync(path.join(tmpdir(), 'tripletkit-demo-')), 'demo.svg')
  const r = spawnSync(process.execPath, ['--import=tsx', 'examples/demo.ts', svg], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  t.is(r.status, 0, r.stderr)
  const row = (name: string) => {
    const m = new RegExp(`^${name}\\s+([\\d.]+)\\s+([\\d.]+)$`, 'm').exec(r.stdout)
    return m ? { p1: Number(m[1]), map: Number(m[2]) } : undefined
  }
  const before = row('untrained network')
  const after = row('trained \\(triplet loss\\)')
  t.truthy(before && after, r.stdout)
  if (!before || !after) return
  t.log(`precision@1 ${before.p1} → ${after.p1}, MAP@R ${before.map} → ${after.map}`)
  t.true(after.map > before.map + 0.2, 'MAP@R improves clearly')
  t.true(after.p1 >= before.p1, 'precision@1 does not get worse')
  const picture = readFileSync(svg, 'utf8')
  t.regex(picture, /^<svg /)
  t.regex(picture, /untrained: MAP@R [\d.]+[\s\S]*after triplet loss: MAP@R [\d.]+/)
})

test("the README's example runs as written (ESM, from the built package)", (t) => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  t.truthy(code, 'README.md has a ```ts example')
  if (!code) return
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  t.is(r.status, 0, r.stderr)
  const [count, loss, p1, map] = r.stdout.trim().split(/\s+/).map(Number)
  t.is(count, 5, 'batch-hard: one triplet per anchor')
  t.true(loss > 0 && p1 >= 0 && p1 <= 1 && map >= 0 && map <= 1, r.stdout)
})

test('npm run example:adapters: both adapters clearly beat the raw embeddings', (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', 'examples/adapters.ts'], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  t.is(r.status, 0, r.stderr + r.stdout)
  const value = (label: string) => Number(new RegExp(`^${label}\\s+([\\d.]+)`, 'm').exec(r.stdout)?.[1])
  const [raw, adapted] = [value('raw pixels, euclidean'), value('fitLinearAdapter \\(64 → 32\\), euclidean')]
  const [rawSelf, oasis] = [value('raw pixels, dot, query among candidates'), value('fitOasis, s\\(x, y\\) = xᵀWy, same protocol')]
  t.log(`MAP@R: raw ${raw} → adapter ${adapted}; raw dot ${rawSelf} → OASIS ${oasis}`)
  t.true(adapted > raw + 0.05 && oasis > rawSelf + 0.05, r.stdout)
})
