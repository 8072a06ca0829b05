/**
 * The memory-heavy cases under a container's memory limit (a cgroup where one can be made,
 * else `ulimit -v`): each ends in a RangeError, and the process lives on, rather than being
 * killed by the kernel for memory it should never have tried to take.
 */
import test from 'ava'
import { runChild } from './helpers/child'
import { memoryLimit } from './helpers/memoryLimit'

const LIMIT = 1024 * 2 ** 20

const SCRIPT = `
const outcome = async (f) => {
  try { await f(); return 'ok' } catch (e) { return e.name + ' ' + e.code }
}
;(async () => {
  const memoryBudget = require(require('path').join(process.cwd(), 'binding.js')).memoryBudget
  const budget = memoryBudget()
  const out = { budget }
  // 30,000² distances are 3.4 GiB.
  out.pairwise = await outcome(() => tk.pairwiseDistancesSync({ data: new Float32Array(30000 * 4), rows: 30000, cols: 4 }))
  // 3,000 rows of two classes: 6.7 billion triplets.
  const x = { data: new Float32Array(3000 * 4).map((_, i) => Math.sin(i)), rows: 3000, cols: 4 }
  const labels = Int32Array.from({ length: 3000 }, (_, i) => i % 2)
  out.mineCpu = await outcome(() => tk.mineTripletsSync(x, labels, { strategy: 'all', device: 'cpu' }))
  out.mineJs = await outcome(() => tk.mineTripletsSync(x, labels, { strategy: 'all', device: 'js' }))
  out.lossAll = await outcome(() => tk.tripletLossSync(x, labels, { mining: 'all', device: 'cpu' }))
  // 20,000 queries × k = 20,000: 3 GiB of neighbours.
  const q = { data: new Float32Array(20000 * 2), rows: 20000, cols: 2 }
  out.knn = await outcome(() => tk.knnSync(q, q, { k: 20000 }))
  // Three concurrent calls, each needing 40% of what is left: together they do not fit.
  const now = memoryBudget()
  const headroom = now.available - now.reserved
  const n = Math.floor(Math.sqrt(0.4 * headroom / 4))
  const big = { data: new Float32Array(n * 2).map((_, i) => i % 7), rows: n, cols: 2 }
  out.concurrent = await Promise.all([0, 1, 2].map(() => outcome(() => tk.pairwiseDistances(big))))
  console.log(JSON.stringify(out))
})()
`

test('memory-heavy calls under a memory limit end in RangeErrors, not a kill', (t) => {
  // Without a cgroup, the address space gets 1 GiB more than the limit, for what Node maps.
  const limit = memoryLimit(LIMIT, 2 ** 30)
  try {
    const child = runChild(SCRIPT, { shell: limit.shell, timeoutMs: 240_000, built: true })
    t.log(`limit: ${limit.how}; child ran ${child.ms} ms`)
    t.is(child.signal, null, `killed: ${child.stderr}`)
    t.is(child.status, 0, child.stderr)
    const out = child.json as Record<string, unknown> & { budget: { available: number }; concurrent: string[] }
    t.log(JSON.stringify(out))
    // The native budget sees the limit, not the host's memory.
    t.true(out.budget.available <= limit.bound, `available ${out.budget.available}`)
    t.is(out.pairwise, 'RangeError ERR_TRIPLETKIT_OUT_OF_MEMORY')
    t.is(out.mineCpu, 'RangeError ERR_TRIPLETKIT_TOO_MANY_TRIPLETS')
    t.is(out.mineJs, 'RangeError ERR_TRIPLETKIT_TOO_MANY_TRIPLETS')
    t.is(out.lossAll, 'RangeError ERR_TRIPLETKIT_TOO_MANY_TRIPLETS')
    t.is(out.knn, 'RangeError ERR_TRIPLETKIT_OUT_OF_MEMORY')
    for (const c of out.concurrent) t.true(c === 'ok' || c === 'RangeError ERR_TRIPLETKIT_OUT_OF_MEMORY', c)
    t.true(out.concurrent.includes('ok'), 'at least one of the concurrent calls fits')
  } finally {
    limit.dispose()
  }
})
