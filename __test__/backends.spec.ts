import test from 'ava'
import { backends, knnSync, pairwiseDistancesSync, tripletLossSync } from '../index'
import { gaussianRows, makeLabels } from './helpers/data'
import { Rng } from './helpers/prng'

test('backends() reports every device, with a reason where one is unavailable', (t) => {
  const b = backends()
  t.deepEqual(Object.keys(b).sort(), ['cpu', 'cuda', 'js'])
  t.is(b.js.available, true)
  t.is(typeof b.cuda.available, 'boolean')
  t.is(typeof b.cpu.available, 'boolean')
  for (const name of ['cuda', 'cpu'] as const) {
    const info = b[name]
    if (!info.available) t.true(typeof info.reason === 'string' && info.reason.length > 0, `${name}: a reason is given`)
  }
  t.log(JSON.stringify(b))
})

test('the native cpu backend is built and available, with its thread count', (t) => {
  const { cpu } = backends()
  t.true(cpu.available, `cpu unavailable: ${cpu.reason}`)
  t.true(Number.isInteger(cpu.threads) && cpu.threads! >= 1, `threads = ${cpu.threads}`)
})

test('backends() tells the truth: an available device runs, an unavailable one is a clear Error', (t) => {
  const b = backends()
  for (const device of ['cuda', 'cpu', 'js'] as const) {
    if (b[device].available) {
      t.notThrows(() => pairwiseDistancesSync([[1, 2]], undefined, { device }), device)
    } else {
      const err = t.throws(() => pairwiseDistancesSync([[1, 2]], undefined, { device }))
      t.is(err?.constructor, Error, `${device}: a plain Error`)
      t.regex(err?.message ?? '', new RegExp(device, 'i'))
    }
  }
})

test("device 'cuda' fails with a clear Error on a machine without a CUDA backend", (t) => {
  if (backends().cuda.available) return t.pass()
  const err = t.throws(() => knnSync([[1]], [[1]], { k: 1, device: 'cuda' }))
  t.is(err?.constructor, Error)
  t.regex(err?.message ?? '', /cuda/i)
  t.regex(err?.message ?? '', /not available/i)
})

test("'auto' (and the default) picks the native cpu backend when there is no GPU", (t) => {
  // cpu (float32 GEMM) and js (float64, rounded) differ in the last bits on random data; 'auto'
  // must give cpu's bits exactly, and differ from js's.
  if (backends().cuda.available) return t.pass()
  const rng = new Rng(95)
  const x = gaussianRows(rng, 50, 64)
  const cpu = pairwiseDistancesSync(x, undefined, { device: 'cpu' }).data
  const js = pairwiseDistancesSync(x, undefined, { device: 'js' }).data
  const auto = pairwiseDistancesSync(x, undefined, { device: 'auto' }).data
  const dflt = pairwiseDistancesSync(x).data
  t.true(cpu.some((v, i) => v !== js[i]), 'cpu and js should differ somewhere for this check to mean anything')
  t.deepEqual(auto, cpu)
  t.deepEqual(dflt, cpu)
  t.notDeepEqual(auto, js)
  const labels = makeLabels(rng, 50, 'few')
  t.deepEqual(tripletLossSync(x, labels).grad.data, tripletLossSync(x, labels, { device: 'cpu' }).grad.data)
})

test('the same input on the same device gives bit-identical output', (t) => {
  const rng = new Rng(96)
  const x = gaussianRows(rng, 300, 40)
  const labels = makeLabels(rng, 300, 'few')
  for (const device of ['cpu', 'js'] as const) {
    t.deepEqual(pairwiseDistancesSync(x, undefined, { device }).data, pairwiseDistancesSync(x, undefined, { device }).data)
    t.deepEqual(knnSync(x, x, { k: 7, device }), knnSync(x, x, { k: 7, device }))
    t.deepEqual(tripletLossSync(x, labels, { device, mining: 'batch-semihard' }), tripletLossSync(x, labels, { device, mining: 'batch-semihard' }))
  }
})
