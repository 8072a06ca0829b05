/**
 * maxMemory on the cpu device: the planner (crates/core/src/runtime/plan.rs, the one the cuda device
 * plans its chunks with) sizes the tiles every thread computes, so a small budget means more,
 * smaller tiles and the same answers, and a budget no tile fits is refused with the coded
 * error, naming the device.
 */
import test from 'ava'
import * as tk from '../index'
import { flat, gaussianRows, makeLabels } from './helpers/data'
import { Rng } from './helpers/prng'

const rng = new Rng(71)
const x: tk.Matrix = { data: flat(gaussianRows(rng, 300, 12)), rows: 300, cols: 12 }
const q: tk.Matrix = { data: flat(gaussianRows(rng, 40, 12)), rows: 40, cols: 12 }
const labels = makeLabels(rng, 300, 'few')

// 200 kB: with two threads, tiles of 64 rows × 256 columns (the full 300 × 300 takes more).
const SMALL = 200_000

test('a small budget cuts the tiles and keeps every answer', async (t) => {
  for (const strategy of ['batch-hard', 'batch-semihard', 'semihard', 'all'] as const) {
    t.deepEqual(tk.mineTripletsSync(x, labels, { strategy, device: 'cpu', maxMemory: SMALL }),
      tk.mineTripletsSync(x, labels, { strategy, device: 'cpu' }), strategy)
  }
  t.deepEqual(await tk.knn(q, x, { k: 7, device: 'cpu', maxMemory: SMALL }), tk.knnSync(q, x, { k: 7, device: 'cpu' }))
  t.deepEqual(tk.tripletLossSync(x, labels, { device: 'cpu', maxMemory: SMALL }), tk.tripletLossSync(x, labels, { device: 'cpu' }))
  t.deepEqual(tk.retrievalMetricsSync(x, labels, { device: 'cpu', maxMemory: SMALL }), tk.retrievalMetricsSync(x, labels, { device: 'cpu' }))
})

test('a budget no tile fits is refused with ERR_TRIPLETKIT_OUT_OF_MEMORY, naming cpu', async (t) => {
  const refused = { instanceOf: RangeError, code: 'ERR_TRIPLETKIT_OUT_OF_MEMORY', message: /^device 'cpu' cannot fit this call: it needs at least 0\.\d MiB/ }
  t.throws(() => tk.mineTripletsSync(x, labels, { strategy: 'batch-hard', device: 'cpu', maxMemory: 50_000 }), refused)
  t.throws(() => tk.mineTripletsSync(x, labels, { strategy: 'batch-semihard', device: 'cpu', maxMemory: 50_000 }), refused)
  await t.throwsAsync(tk.knn(q, x, { k: 7, device: 'cpu', maxMemory: 50_000 }), refused)
})

test('the result of pairwiseDistances is not a tile: the budget does not apply to it', (t) => {
  t.deepEqual(tk.pairwiseDistancesSync(x, undefined, { device: 'cpu', maxMemory: 1000 }), tk.pairwiseDistancesSync(x, undefined, { device: 'cpu' }))
})
