import test from 'ava'
import { mineTriplets, mineTripletsSync } from '../index'
import { flat, gaussianRows, makeLabels } from './helpers/data'
import { Rng } from './helpers/prng'

test('mineTriplets reports the native progress while it runs, and the sync twin never does', async (t) => {
  const rng = new Rng(71)
  const rows = 16384
  const x = { data: flat(gaussianRows(rng, rows, 128)), rows, cols: 128 }
  const labels = makeLabels(rng, rows, 'few')
  const seen: [number, number][] = []
  // batch-semihard over 16,384 rows of 128 takes about a second here: several reads of the counter.
  const t0 = Date.now()
  const mined = await mineTriplets(x, labels, { strategy: 'batch-semihard', device: 'cpu', onProgress: (done, total) => seen.push([done, total]) })
  t.log(`${seen.length} reports in ${Date.now() - t0} ms`)
  t.true(mined.length > 0)
  t.true(seen.length > 0, 'at least one report')
  for (const [i, [done, total]] of seen.entries()) {
    t.is(total, rows)
    t.true(done > 0 && done <= total)
    if (i > 0) t.true(done > seen[i - 1][0], 'each report is news')
  }
  const none: number[] = []
  mineTripletsSync(x, labels, { strategy: 'batch-hard', device: 'cpu', onProgress: (d) => none.push(d) })
  t.deepEqual(none, [])
  t.throws(() => mineTripletsSync(x, labels, { strategy: 'batch-hard', onProgress: 3 as never }), {
    instanceOf: TypeError, message: /^opts\.onProgress: expected a function/,
  })
})
