/**
 * setCudaMath and TRIPLETKIT_CUDA_MATH: the CUDA tiles' arithmetic, 'fp32' (the cpu's bits) or
 * 'tf32x3' (3xTF32 tensor cores, FP32-level accuracy). Checked through the emulator in child
 * processes, so that this process's device keeps its default.
 */
import test from 'ava'
import { setCudaMath } from '../index'
import { runChild } from './helpers/child'

test('setCudaMath takes fp32 or tf32x3, and names the argument otherwise', (t) => {
  t.throws(() => setCudaMath(3 as never), { instanceOf: TypeError, message: /^math: expected one of 'fp32', 'tf32x3', received the number 3$/ })
  t.throws(() => setCudaMath('tf32' as never), { instanceOf: RangeError, message: "math: expected one of 'fp32', 'tf32x3', received 'tf32'" })
})

// x = 1 + 2⁻¹² + 2⁻²³: x·x is 1 + 2⁻¹¹ + 2⁻²¹ by 3xTF32 (x splits into 1 and 2⁻¹² + 2⁻²²,
// and the low parts' product is dropped) and 1 + 2⁻¹¹ + 2⁻²² + 2⁻²³ in FP32.
const script = `
  const x = tk.matrix(Float32Array.of(1 + 2 ** -12 + 2 ** -23), 1, 1)
  const dot = (device) => tk.pairwiseDistancesSync(x, x, { metric: 'dot', device }).data[0]
  const rows = tk.matrix(Float32Array.from({ length: 37 * 19 }, (_, i) => Math.sin(i * 1.7) * 3), 37, 19)
  const bits = (device) => Array.from(tk.pairwiseDistancesSync(rows, undefined, { metric: 'sqeuclidean', device }).data)
  const out = { start: tk.backends().cuda, cpu: bits('cpu'), dotCpu: dot('cpu') }
  out.startDot = dot('cuda')
  out.startRows = bits('cuda')
  tk.setCudaMath('tf32x3')
  out.tf32 = tk.backends().cuda.math
  out.tf32Dot = dot('cuda')
  out.tf32Rows = bits('cuda')
  tk.setCudaMath('fp32')
  out.back = tk.backends().cuda.math
  out.backRows = bits('cuda')
  console.log(JSON.stringify(out))`

interface Run {
  start: { available: boolean; math?: string }
  cpu: number[]; dotCpu: number
  startDot: number; startRows: number[]
  tf32: string; tf32Dot: number; tf32Rows: number[]
  back: string; backRows: number[]
}

function emulated(math?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, TRIPLETKIT_CUDA_EMULATOR: '1' }
  delete env.TRIPLETKIT_CUDA_MATH
  if (math !== undefined) env.TRIPLETKIT_CUDA_MATH = math
  return runChild(script, { env })
}

test('tf32x3 on cuda: the hand-worked product, distances within tolerance of the cpu\'s, and back to the cpu\'s bits with fp32', (t) => {
  const r = emulated()
  t.is(r.status, 0, r.stderr)
  const out = r.json as Run
  if (!out.start.available) return t.pass('this build has no CUDA emulator')
  t.is(out.start.math, 'fp32')
  t.is(out.startDot, out.dotCpu)
  t.is(out.startDot, -(1 + 2 ** -11 + 2 ** -22 + 2 ** -23))
  t.deepEqual(out.startRows, out.cpu)
  t.is(out.tf32, 'tf32x3')
  t.is(out.tf32Dot, -(1 + 2 ** -11 + 2 ** -21))
  t.notDeepEqual(out.tf32Rows, out.cpu)
  // Within 1e-5 · (‖a‖² + ‖b‖²); these rows' squared norms are below 19 · 9 each.
  const worst = Math.max(...out.tf32Rows.map((v, i) => Math.abs(v - out.cpu[i])))
  t.true(worst <= 1e-5 * 2 * 19 * 9, `worst difference ${worst}`)
  t.true(out.tf32Rows.every((v, i) => i % 38 !== 0 || v === 0), 'the diagonal stays exactly 0')
  t.is(out.back, 'fp32')
  t.deepEqual(out.backRows, out.cpu)
})

test('TRIPLETKIT_CUDA_MATH sets the math when the device opens; another value leaves cuda unavailable, saying why', (t) => {
  const r = emulated('tf32x3')
  t.is(r.status, 0, r.stderr)
  const out = r.json as Run
  if (!out.start.available) return t.pass('this build has no CUDA emulator')
  t.is(out.start.math, 'tf32x3')
  t.is(out.startDot, -(1 + 2 ** -11 + 2 ** -21))
  const bad = runChild(`console.log(JSON.stringify(tk.backends().cuda))`,
    { env: { ...process.env, TRIPLETKIT_CUDA_EMULATOR: '1', TRIPLETKIT_CUDA_MATH: 'fast' } })
  t.is(bad.status, 0, bad.stderr)
  t.deepEqual(bad.json, { available: false, reason: "TRIPLETKIT_CUDA_MATH must be 'fp32' or 'tf32x3', received 'fast'" })
})
