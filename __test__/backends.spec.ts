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

test("device 'cuda' runs when backends() says so, and is otherwise a coded Error that says why", (t) => {
  const { cuda } = backends()
  const x = [[0], [1], [5], [6]]
  if (cuda.available) {
    // Well separated points: the GPU must find exactly the cpu's neighbours.
    t.deepEqual(knnSync(x, x, { k: 2, device: 'cuda' }).indices, knnSync(x, x, { k: 2, device: 'cpu' }).indices)
    return
  }
  const err = t.throws(() => knnSync(x, x, { k: 1, device: 'cuda' }))
  t.is(err?.constructor, Error)
  t.is((err as Error & { code?: string }).code, 'ERR_TRIPLETKIT_DEVICE_UNAVAILABLE')
  t.regex(err?.message ?? '', /cuda/i)
  t.regex(err?.message ?? '', /not available/i)
  t.true(err?.message.endsWith(cuda.reason ?? '\0'), `the message gives backends().cuda.reason: ${err?.message}`)
})

test("'auto' (and the default) runs small work on the native cpu backend, GPU or not", (t) => {
  // Devices differ in the last bits on random data (cpu: float32 GEMM, js: float64 rounded), so
  // 'auto' must give exactly the chosen device's bits, and differ from js's. 50 × 50 × 64 is far
  // below CUDA_AUTO_MIN_MACS: a GPU would lose to its own upload.
  const expected = 'cpu'
  const rng = new Rng(95)
  const x = gaussianRows(rng, 50, 64)
  const chosen = pairwiseDistancesSync(x, undefined, { device: expected }).data
  const js = pairwiseDistancesSync(x, undefined, { device: 'js' }).data
  const auto = pairwiseDistancesSync(x, undefined, { device: 'auto' }).data
  const dflt = pairwiseDistancesSync(x).data
  t.true(chosen.some((v, i) => v !== js[i]), `${expected} and js should differ somewhere for this check to mean anything`)
  t.deepEqual(auto, chosen)
  t.deepEqual(dflt, chosen)
  t.notDeepEqual(auto, js)
  const labels = makeLabels(rng, 50, 'few')
  t.deepEqual(tripletLossSync(x, labels).grad.data, tripletLossSync(x, labels, { device: expected }).grad.data)
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
