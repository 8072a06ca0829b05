// The packages as a user installs them: `npm run pack:all` tarballs into an empty project whose
// PATH has node and npm only (no Rust, no C compiler). With the platform package, require and
// import load the native backend; without it, tripletkit still works on the js reference and
// says so once.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { root } from './helpers/child'

const pkg = join(root, 'pkg')
const work = mkdtempSync(join(tmpdir(), 'tripletkit-pack-'))
// A PATH with node and npm and nothing else.
const bin = join(work, 'bin')
mkdirSync(bin)
symlinkSync(process.execPath, join(bin, 'node'))
symlinkSync(join(dirname(process.execPath), 'npm'), join(bin, 'npm'))
const env = { HOME: process.env.HOME, PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? work, '.npm') }

function project(name: string, tarballs: string[]): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((t) => join(pkg, t))],
    { cwd: dir, env, encoding: 'utf8', timeout: 240_000 })
  if (r.status !== 0) throw new Error(`npm install failed: ${r.stderr}`)
  return dir
}

const CHECK = `const r = tk.knnSync([[0, 0], [1, 0], [5, 5]], [[0, 0], [1, 0], [5, 5]], { k: 2 });
console.log(JSON.stringify({ cpu: tk.backends().cpu, indices: Array.from(r.indices) }))`

function run(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('node', args, { cwd: dir, env, encoding: 'utf8', timeout: 60_000 })
}

test.before(() => {
  execFileSync(process.execPath, [join(root, 'scripts', 'pack-all.mjs')], { cwd: root, stdio: 'pipe' })
})

test.serial('the packed tarballs: the root carries no .node, the platform package does', (t) => {
  const tarballs = readdirSync(pkg)
  t.true(tarballs.includes('tripletkit-0.1.0.tgz'), tarballs.join(' '))
  t.true(tarballs.includes(`tripletkit-${process.platform}-${process.arch}-gnu-0.1.0.tgz`), tarballs.join(' '))
  const list = execFileSync('tar', ['tzf', join(pkg, 'tripletkit-0.1.0.tgz')], { encoding: 'utf8' })
  t.false(/\.node$/m.test(list))
  t.regex(list, /package\/dist\/src\/cli\/main\.js/)
})

test.serial('installed without Rust or a compiler, require and import load the native cpu backend', (t) => {
  const dir = project('with-addon', ['tripletkit-0.1.0.tgz', `tripletkit-${process.platform}-${process.arch}-gnu-0.1.0.tgz`])
  const cjs = run(dir, ['-e', `const tk = require('tripletkit'); ${CHECK}`])
  t.is(cjs.status, 0, cjs.stderr)
  const got = JSON.parse(cjs.stdout) as { cpu: { available: boolean }; indices: number[] }
  t.true(got.cpu.available)
  t.deepEqual(got.indices, [0, 1, 1, 0, 2, 1])
  const esm = run(dir, ['--input-type=module', '-e', `import * as tk from 'tripletkit'; ${CHECK}`])
  t.is(esm.status, 0, esm.stderr)
  t.true((JSON.parse(esm.stdout) as { cpu: { available: boolean } }).cpu.available)
  t.is(esm.stderr, '')
  const cli = run(dir, [join(dir, 'node_modules', '.bin', 'tripletkit'), '--help'])
  t.is(cli.status, 0, cli.stderr)
  t.regex(cli.stdout, /Usage: tripletkit/)
})

test.serial('without the platform package, it runs on the js reference and warns once', (t) => {
  const dir = project('without-addon', ['tripletkit-0.1.0.tgz'])
  const r = run(dir, ['-e', `const tk = require('tripletkit'); ${CHECK}; tk.knnSync([[0]], [[1]], { k: 1 })`])
  t.is(r.status, 0, r.stderr)
  const got = JSON.parse(r.stdout) as { cpu: { available: boolean; reason: string }; indices: number[] }
  t.false(got.cpu.available)
  t.regex(got.cpu.reason, /native addon failed to load/)
  t.deepEqual(got.indices, [0, 1, 1, 0, 2, 1])
  t.is(r.stderr.match(/TRIPLETKIT_NO_NATIVE_ADDON/g)?.length, 1, r.stderr)
})
