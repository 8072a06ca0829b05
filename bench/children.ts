/**
 * Bench scripts that run each case in a process of their own, so that its peak memory is its
 * own: the script starts itself with `--child ID`, the child prints one JSON line, the parent
 * reads it.
 */
import { spawnSync } from 'node:child_process'

/** Runs case `id` of the bench script `file` in a child process: the JSON line it printed last. */
export function inChild(file: string, id: string, quick: boolean): Record<string, number> {
  const r = spawnSync(process.execPath, [...process.execArgv, file, '--child', id, ...(quick ? ['--quick'] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${id} failed: exit ${r.status}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>
}

/** Runs `child(ID)` when this process was started with `--child ID`, else `main()`. */
export function childOrMain(child: (id: string) => Promise<void>, main: () => void): void {
  const at = process.argv.indexOf('--child')
  if (at < 0) return main()
  child(process.argv[at + 1]).catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
