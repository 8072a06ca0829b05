/**
 * A GPU that fails for good: after a sticky CUDA error (an illegal address, say) the device
 * refuses every later call with ERR_TRIPLETKIT_DEVICE_FAILED and the first failure, backends()
 * reports it unavailable, and 'auto' runs on the cpu with one warning. The emulator makes the
 * failure on request (TRIPLETKIT_CUDA_EMULATOR_FAULT names a kernel), in a child process so
 * that this one's device stays sound.
 */
import test from 'ava'
import { autoDevice } from '../src/device'
import { runChild } from './helpers/child'

const GPU = { available: true, emulated: false, device: 'a GPU' }

test('auto picks the cpu, with the warning to give, once the GPU has failed', (t) => {
  const big = { op: 'knn', macs: 2 ** 34, bytes: 2 ** 26 }
  t.deepEqual(autoDevice(GPU, big, null), { device: 'cuda' })
  const failed = autoDevice(GPU, big, 'tk_distance_tile: CUDA_ERROR_ILLEGAL_ADDRESS')
  t.is(failed.device, 'cpu')
  t.regex(failed.warning ?? '', /^the GPU failed earlier in this process and cannot run again \(tk_distance_tile: CUDA_ERROR_ILLEGAL_ADDRESS\), so 'auto' runs on the cpu/)
  // Work the GPU would not have taken says nothing.
  t.deepEqual(autoDevice(GPU, { op: 'knn', macs: 10, bytes: 80 }, 'failed'), { device: 'cpu' })
  t.deepEqual(autoDevice({ ...GPU, emulated: true }, big, 'failed'), { device: 'cpu' })
})

test('a sticky error on cuda: this call and every later one reject with ERR_TRIPLETKIT_DEVICE_FAILED, the cpu runs on', (t) => {
  const script = `
    (async () => {
      const x = { data: Float32Array.from({ length: 60 }, (_, i) => i % 7), rows: 12, cols: 5 }
      const out = { before: tk.backends().cuda.available }
      const caught = (e) => ({ code: e.code, message: e.message, name: e.name })
      try { tk.pairwiseDistancesSync(x, x, { device: 'cuda' }) } catch (e) { out.first = caught(e) }
      try { await tk.knn(x, x, { k: 2, device: 'cuda' }) } catch (e) { out.second = caught(e) }
      try { await tk.mineTriplets(x, Array.from({ length: 12 }, (_, i) => i % 3), { strategy: 'batch-hard', device: 'cuda' }) } catch (e) { out.third = caught(e) }
      out.report = tk.backends().cuda
      out.cpu = Array.from(tk.knnSync(x, x, { k: 2, device: 'cpu' }).indices)
      out.auto = Array.from(tk.knnSync(x, x, { k: 2 }).indices)
      console.log(JSON.stringify(out))
    })().catch((e) => { console.error(e); process.exit(1) })`
  const r = runChild(script, { env: { ...process.env, TRIPLETKIT_CUDA_EMULATOR: '1', TRIPLETKIT_CUDA_EMULATOR_FAULT: 'tk_distance_tile' } })
  t.is(r.status, 0, r.stderr)
  const out = r.json as Record<string, { code?: string; message?: string; name?: string; available?: boolean; reason?: string } | boolean | number[]>
  if (out.before !== true) return t.pass('this build has no CUDA emulator')
  const first = out.first as { code: string; message: string }
  t.is(first.code, 'ERR_TRIPLETKIT_DEVICE_FAILED')
  t.regex(first.message, /tk_distance_tile: CUDA_ERROR_ILLEGAL_ADDRESS/)
  for (const later of [out.second, out.third] as { code: string; message: string; name: string }[]) {
    t.is(later.code, 'ERR_TRIPLETKIT_DEVICE_FAILED')
    t.is(later.name, 'Error')
    t.regex(later.message, /^device 'cuda' failed earlier in this process and cannot run again \(tk_distance_tile: CUDA_ERROR_ILLEGAL_ADDRESS/)
  }
  const report = out.report as { available: boolean; reason: string }
  t.false(report.available)
  t.regex(report.reason, /^the GPU failed earlier in this process and cannot run again/)
  t.deepEqual(out.auto, out.cpu)
  t.is((out.cpu as number[]).length, 24)
})
