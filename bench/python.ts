/**
 * The Python the benchmarks time their alternatives in: `TRIPLETKIT_BENCH_PYTHON` when set,
 * else a virtual environment of the bench's own in `.cache/bench-venv`, made on first use with
 * NumPy and faiss-cpu (small wheels, a few seconds; pytorch-metric-learning, much larger, is
 * timed where it is installed there or named), else the PATH's `python3`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const VENV = join(__dirname, '..', '.cache', 'bench-venv')
/** What the bench's environment installs, pinned. */
export const BENCH_WHEELS = ['numpy', 'faiss-cpu==1.15.1']

function run(exe: string, args: string[]): boolean {
  const r = spawnSync(exe, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 })
  return r.status === 0
}

/** The bench's environment, made or completed now; undefined (and why, on stderr) when it cannot be. */
function benchVenv(): string | undefined {
  const exe = join(VENV, 'bin', 'python')
  if (!existsSync(exe) && !run('python3', ['-m', 'venv', VENV])) {
    process.stderr.write('bench: python3 -m venv failed; timing with the PATH\'s Python\n')
    return undefined
  }
  if (!run(exe, ['-c', 'import numpy, faiss'])) {
    process.stderr.write(`bench: installing ${BENCH_WHEELS.join(', ')} into .cache/bench-venv…\n`)
    if (!run(exe, ['-m', 'pip', 'install', '--quiet', ...BENCH_WHEELS])) {
      process.stderr.write('bench: pip install failed; timing without them\n')
    }
  }
  return exe
}

/** The Pythons to try, in order. */
export function benchPythons(): string[] {
  const chosen = process.env.TRIPLETKIT_BENCH_PYTHON
  if (chosen !== undefined && chosen !== '') return [chosen, 'python3']
  const venv = benchVenv()
  return [...(venv === undefined ? [] : [venv]), 'python3']
}
