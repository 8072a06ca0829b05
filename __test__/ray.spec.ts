// examples/ray/driver.py on a local Ray cluster of 2 CPUs: knn and mine-negatives in 3 shards, one
// Ray task each, merged on the driver, equal byte for byte the files of one run without --shard.
// Ray goes into a virtual environment of its own (.cache/ray-venv, reused); where it cannot be
// installed (no network, no wheel for the platform) the tests log why and pass.
import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeNpy } from '../index'
import { root } from './helpers/child'
import { Rng } from './helpers/prng'

const venv = join(root, '.cache', 'ray-venv')
const python = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin', 'python')
const cli = join(root, 'dist', 'src', 'cli', 'main.js')
const driver = join(root, 'examples', 'ray', 'driver.py')
// Quiet and quick: no usage report, no dashboard (the driver starts none for a local cluster).
const env = { ...process.env, RAY_DISABLE_USAGE_STATS: '1' }

interface Ran { status: number | null; stdout: string; stderr: string }

/** Runs a command without blocking the event loop, so that ava's timeouts keep working. */
function sh(command: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env })
    let stdout = '', stderr = ''
    // A timer of our own: spawn's `timeout` outlives a command that could not start, holding the run open.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const done = (r: Ran) => {
      clearTimeout(timer)
      resolve(r)
    }
    child.stdout.on('data', (b: Buffer) => { stdout += b })
    child.stderr.on('data', (b: Buffer) => { stderr += b })
    child.on('error', (err) => done({ status: null, stdout, stderr: `${stderr}${err.message}` }))
    child.on('close', (status) => done({ status, stdout, stderr }))
  })
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' | ')

/** The venv's python with ray importable, or why there is none; the venv is made once. */
async function installRay(): Promise<{ python: string } | { skip: string }> {
  if ((await sh(python, ['-c', 'import ray'], 60_000)).status === 0) return { python }
  rmSync(venv, { recursive: true, force: true }) // a half-made one
  const made = await sh('python3', ['-m', 'venv', venv], 120_000)
  if (made.status !== 0) return { skip: `python3 -m venv failed: ${lastLines(made.stderr)}` }
  const pip = await sh(python, ['-m', 'pip', 'install', '--quiet', 'ray>=2,<3'], 12 * 60_000)
  if (pip.status !== 0) {
    rmSync(venv, { recursive: true, force: true })
    return { skip: `pip install "ray>=2,<3" failed: ${lastLines(pip.stderr)}` }
  }
  return { python }
}

let ray: ReturnType<typeof installRay> | undefined

/** The python to run the driver with, or undefined (logged) when the test cannot run. */
async function rayPython(t: ExecutionContext): Promise<string | undefined> {
  t.timeout(15 * 60_000) // the first call installs ray
  if (!existsSync(cli)) {
    t.fail(`${cli} is missing: build the package first (npm install does, or npm run build:ts)`)
    return undefined
  }
  ray ??= installRay()
  const r = await ray
  if ('skip' in r) {
    t.log(`skipped: ray could not be installed: ${r.skip}`)
    t.pass()
    return undefined
  }
  return r.python
}

// Odd sizes, and exact duplicate rows on both sides of the shard borders (rows 333 and 667 of
// 1,001), so that ties decided by the row index cross from one part to another.
const dir = mkdtempSync(join(tmpdir(), 'tripletkit-ray-'))
const file = (name: string) => join(dir, name)
const rng = new Rng(37)
const D = 13, N = 1001, Q = 37
const corpus = Float32Array.from({ length: N * D }, () => rng.gauss())
for (const [from, to] of [[332, 333], [332, 700], [666, 667], [0, 1000], [100, 500]]) corpus.copyWithin(to * D, from * D, (from + 1) * D)
const queries = Float64Array.from({ length: Q * D }, () => rng.gauss())
for (const [q, row] of [[0, 332], [5, 666], [17, 0], [36, 100]]) queries.set(corpus.subarray(row * D, (row + 1) * D), q * D)
const positives = BigInt64Array.from({ length: Q }, (_, i) => BigInt(i === 3 ? 333 : i === 4 ? 667 : rng.int(N)))
writeFileSync(file('corpus.npy'), writeNpy({ data: corpus, shape: [N, D] }))
writeFileSync(file('queries.npy'), writeNpy({ data: queries, shape: [Q, D] }))
writeFileSync(file('positives.npy'), writeNpy({ data: positives, shape: [Q] }))

test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/**
 * Runs `args` once with the CLI and once through the driver in 3 shards, each writing `--out`
 * and the flag `extra` names; both files must be equal, byte for byte.
 */
async function sameAsOneRun(t: ExecutionContext, name: string, args: string[], extra: '--distances' | '--scores'): Promise<void> {
  const py = await rayPython(t)
  if (py === undefined) return
  const one = await sh(process.execPath, [cli, ...args, '--out', file(`${name}-one.npy`), extra, file(`${name}-one-${extra.slice(2)}.npy`), '-q'], 120_000)
  t.is(one.status, 0, one.stderr)
  const started = Date.now()
  const sharded = await sh(py, [driver, ...args, '--out', file(`${name}-ray.npy`), extra, file(`${name}-ray-${extra.slice(2)}.npy`),
    '--shards', '3', '--num-cpus', '2', '--tripletkit', `"${process.execPath}" "${cli}"`], 180_000)
  t.is(sharded.status, 0, sharded.stderr)
  t.log(`driver.py: ${Date.now() - started} ms\n${sharded.stderr.trim()}`)
  t.is(sharded.stderr.match(/^shard [0-2]\/3: \d+ bytes from /gm)?.length, 3, sharded.stderr)
  t.regex(sharded.stderr, /^3 parts merged into /m)
  for (const suffix of ['', `-${extra.slice(2)}`]) {
    const [a, b] = [file(`${name}-one${suffix}.npy`), file(`${name}-ray${suffix}.npy`)]
    t.true(readFileSync(a).equals(readFileSync(b)), `${b} differs from ${a}`)
  }
}

test.serial('knn in 3 Ray tasks, merged: the indices and distances of one run', async (t) => {
  await sameAsOneRun(t, 'knn', ['knn', file('queries.npy'), file('corpus.npy'), '--k', '7', '--device', 'cpu'], '--distances')
})

test.serial('knn --exclude-self of the corpus against itself in 3 Ray tasks: the files of one run', async (t) => {
  await sameAsOneRun(t, 'self', ['knn', file('corpus.npy'), file('corpus.npy'), '--k', '4', '--exclude-self', '--device', 'cpu'], '--distances')
})

test.serial('mine-negatives, sampled at random, in 3 Ray tasks: the negatives and scores of one run', async (t) => {
  await sameAsOneRun(t, 'negatives', ['mine-negatives', file('queries.npy'), file('corpus.npy'), file('positives.npy'),
    '--sampling', 'random', '--seed', '5', '--device', 'cpu'], '--scores')
})

test.serial("a failing shard ends the driver with exit code 1 and tripletkit's message", async (t) => {
  const py = await rayPython(t)
  if (py === undefined) return
  const r = await sh(py, [driver, 'knn', file('queries.npy'), file('missing.npy'), '--k', '3', '--out', file('never.npy'),
    '--shards', '3', '--num-cpus', '2', '--tripletkit', `"${process.execPath}" "${cli}"`], 120_000)
  t.is(r.status, 1, r.stderr)
  t.regex(r.stderr, /driver\.py: shard \d\/3 failed .* exit code 1: .*\ntripletkit: .*missing\.npy: cannot read it \(ENOENT\)/)
  t.false(existsSync(file('never.npy')))
})
