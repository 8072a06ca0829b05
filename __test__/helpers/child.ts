/** Runs a script in a fresh Node process, so that a crash or a hang fails one test, not the run. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const root = join(__dirname, '..', '..')

export interface ChildResult {
  /** Exit status; null when killed (by a signal or the timeout). */
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number
  /** The JSON the script printed last, if any. */
  json: unknown
}

/**
 * Runs `script` (JavaScript; `tk` is the package, from its TypeScript sources through tsx, or
 * `built`) in a child Node; `shell` runs first in the child's shell (e.g. `ulimit -v`).
 */
export function runChild(script: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; shell?: string; built?: boolean } = {}): ChildResult {
  // `built`: the compiled package (dist/), without tsx, whose WebAssembly parser reserves more
  // address space than a `ulimit -v` leaves.
  const entry = opts.built === true ? join(root, 'dist', 'index.js') : join(root, 'index.ts')
  const code = `const tk = require(${JSON.stringify(entry)});\n${script}`
  const args = opts.built === true ? ['-e', code] : ['--import=tsx', '-e', code]
  const start = Date.now()
  const r = opts.shell === undefined
    ? spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env })
    : spawnSync('/bin/sh', ['-c', `${opts.shell}; exec "$0" "$@"`, process.execPath, ...args],
      { cwd: root, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env })
  const ms = Date.now() - start
  const last = r.stdout.trim().split('\n').pop() ?? ''
  let json: unknown
  try {
    json = JSON.parse(last)
  } catch {
    json = undefined
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms, json }
}

/** A script line that prints an error's name, code and message as the last JSON line. */
export const REPORT = `
const report = (f) => {
  try { const r = f(); console.log(JSON.stringify({ ok: true, r })) }
  catch (e) { console.log(JSON.stringify({ ok: false, name: e?.name, code: e?.code, message: String(e?.message) })) }
}
`
