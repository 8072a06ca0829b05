#!/usr/bin/env node
// npm run test:cuda: the device-parametrised ava specs again with 'cuda' among their devices
// (TRIPLETKIT_TEST_CUDA=1), through the CPU emulator of the CUDA kernels
// (TRIPLETKIT_CUDA_EMULATOR=1) unless TRIPLETKIT_CUDA_EMULATOR is already set (on a GPU
// machine, set it to 0 to run the real kernels). Every function has CUDA kernels, so every
// spec that runs over the devices runs here.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const specs = readdirSync(join(root, '__test__'))
  .filter((f) => f.endsWith('.spec.ts'))
  .filter((f) => f === 'backends.spec.ts' || readFileSync(join(root, '__test__', f), 'utf8').includes('./helpers/devices'))
  .map((f) => join('__test__', f))
const env = { ...process.env, TRIPLETKIT_TEST_CUDA: '1', TRIPLETKIT_CUDA_EMULATOR: process.env.TRIPLETKIT_CUDA_EMULATOR ?? '1' }
const ava = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
const r = spawnSync(process.execPath, [ava, ...specs], { cwd: root, env, stdio: 'inherit' })
process.exit(r.status ?? 1)
