// Packs installable tarballs into pkg/, the way napi-rs packages publish: one package per
// platform whose addon was built here (npm/<platform>/, the .node copied from the root build),
// and the root package, which carries no .node, no build step, and optionalDependencies on every
// platform package (as `napi prepublish` adds them at release). Run after `npm run build`.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const out = join(root, 'pkg')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const pack = (dir) => execFileSync(npm, ['pack', '--pack-destination', out, '--silent'], { cwd: dir, encoding: 'utf8' }).trim()

rmSync(out, { recursive: true, force: true })
mkdirSync(out)
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const platforms = {}
for (const dir of readdirSync(join(root, 'npm'))) {
  const pkg = JSON.parse(readFileSync(join(root, 'npm', dir, 'package.json'), 'utf8'))
  platforms[pkg.name] = rootPkg.version
  const built = join(root, pkg.main)
  if (!existsSync(built)) continue // not built on this machine: the release workflow builds it
  copyFileSync(built, join(root, 'npm', dir, pkg.main))
  console.log(`pack-all: ${pack(join(root, 'npm', dir))}`)
}

// The root package, staged without what only a source checkout needs.
const stage = join(out, 'stage')
mkdirSync(stage)
for (const f of ['dist', 'binding.js', 'binding.d.ts', 'README.md', 'LICENSE', 'NOTICE']) cpSync(join(root, f), join(stage, f), { recursive: true })
const { prepare: _prepare, ...scripts } = rootPkg.scripts
void scripts // a tarball runs no build and no script of ours
const { devDependencies: _dev, ...published } = rootPkg
writeFileSync(join(stage, 'package.json'), JSON.stringify({
  ...published,
  scripts: undefined,
  files: [...rootPkg.files.filter((f) => !f.endsWith('.node')), 'NOTICE'],
  optionalDependencies: platforms,
}, null, 2) + '\n')
console.log(`pack-all: ${pack(stage)}`)
rmSync(stage, { recursive: true })
