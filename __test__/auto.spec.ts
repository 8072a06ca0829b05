/**
 * How 'auto' chooses between a GPU and the cpu: a cost model of multiply-adds and bytes copied
 * over the bus (src/device.ts, CUDA_COST), so that work whose copies cost more than the cpu's
 * whole run stays on the cpu. Checked on a GPU's report (a real one is not needed to decide).
 */
import test from 'ava'
import { autoDevice, CUDA_COST, gpuFaster } from '../src/device'

const GPU = { available: true, emulated: false, device: 'a GPU' }

test('a large knn or distance matrix goes to the GPU; O(n·d) work and small work stay on the cpu', (t) => {
  // knn 1,000 × 100,000, d = 128: 1.3 × 10¹⁰ multiply-adds against 52 MB of copies.
  const knn = { op: 'knn', macs: 1000 * 100_000 * 128, bytes: 4 * 101_000 * 128 + 8 * 1000 * 10 }
  t.is(autoDevice(GPU, knn, null, 16).device, 'cuda')
  t.is(autoDevice(GPU, knn, null, 2).device, 'cuda')
  // Pair verification of 2³¹ values: as many multiply-adds as values, 8 bytes each copied up.
  const pairs = { op: 'verificationMetrics', macs: 2 ** 31, bytes: 8 * 2 ** 31 }
  t.is(autoDevice(GPU, pairs, null, 2).device, 'cpu')
  t.is(autoDevice(GPU, pairs, null, 128).device, 'cpu')
  // A distance matrix of 8,192² at d = 128: its 268 MB result is worth sending down from 2 threads up to a few dozen.
  const pairwise = { op: 'pairwiseDistances', macs: 8192 * 8192 * 128, bytes: 4 * 16_384 * 128 + 4 * 8192 * 8192 }
  t.is(autoDevice(GPU, pairwise, null, 2).device, 'cuda')
  t.is(autoDevice(GPU, pairwise, null, 256).device, 'cpu')
  // Below CUDA_AUTO_MIN_MACS nothing goes, whatever the model says; nor to an emulator, nor an op the GPU lacks.
  t.is(autoDevice(GPU, { op: 'knn', macs: 2 ** 29, bytes: 0 }, null, 1).device, 'cpu')
  t.is(autoDevice({ ...GPU, emulated: true }, knn, null, 2).device, 'cpu')
  t.is(autoDevice({ ...GPU, ops: ['pairwiseDistances'] }, knn, null, 2).device, 'cpu')
})

test('the model is the sum of its parts, as documented', (t) => {
  const c = CUDA_COST
  // At the break-even point the two times are equal: one byte more tips it to the cpu.
  const macs = 2 ** 33
  const threads = 8
  const cpu = macs / (threads * c.cpuMacsPerSecondPerThread)
  const even = (cpu - c.fixedSeconds - macs / c.gpuMacsPerSecond) * c.busBytesPerSecond
  t.true(gpuFaster({ op: 'knn', macs, bytes: Math.floor(even) - 1024 }, threads))
  t.false(gpuFaster({ op: 'knn', macs, bytes: Math.ceil(even) + 1024 }, threads))
})
