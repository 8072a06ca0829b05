/**
 * A way to run a child process under a memory limit: a memory cgroup of its own where this
 * process may make one (root with cgroup v1, or v2 with the memory controller delegated), else
 * `ulimit -v`, which the native budget also reads.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Limit {
  /** How the limit is applied, for the test log. */
  how: string
  /** A shell prefix that puts the child under the limit. */
  shell: string
  /** The most the child can have available under it. */
  bound: number
  /** Removes what was made for the limit. */
  dispose(): void
}

/** A limit of `bytes`, by cgroup if possible, else by `ulimit -v` of `bytes + extraVirtual`. */
export function memoryLimit(bytes: number, extraVirtual: number): Limit {
  const name = `tripletkit-test-${process.pid}-${Date.now()}`
  for (const [dir, file] of cgroupDirs(name)) {
    try {
      mkdirSync(dir)
      writeFileSync(join(dir, file), String(bytes))
      return {
        how: `cgroup ${dir} (${file} = ${bytes})`,
        shell: `echo $$ > ${join(dir, 'cgroup.procs')}`,
        bound: bytes,
        dispose: () => {
          try {
            rmdirSync(dir)
          } catch {
            // still busy with an exiting child: the kernel removes nothing by itself, but an
            // empty group costs nothing
          }
        },
      }
    } catch {
      try {
        rmdirSync(dir)
      } catch {
        // never made
      }
    }
  }
  const kib = Math.floor((bytes + extraVirtual) / 1024)
  return { how: `ulimit -v ${kib} KiB`, shell: `ulimit -v ${kib}`, bound: kib * 1024, dispose: () => {} }
}

/** Candidate cgroup directories and their limit file: v2 under our own group, then v1. */
function cgroupDirs(name: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  let text = ''
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8')
  } catch {
    return out
  }
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':')
    if (path === undefined) continue
    if (controllers === '' && existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      out.push([join('/sys/fs/cgroup', path, name), 'memory.max'])
    } else if (controllers.split(',').includes('memory')) {
      out.push([join('/sys/fs/cgroup/memory', path, name), 'memory.limit_in_bytes'])
    }
  }
  return out
}
