// The tripletkit command on NumPy-written files (fixtures/npy): its outputs equal the library's,
// bad files and bad command lines end with a message and exit codes 1 and 2.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { knnSync, mineTripletsSync, readNpy, retrievalMetricsSync } from '../index'
import { root } from './helpers/child'

const fixtures = join(__dirname, 'fixtures', 'npy')
const f = (name: string): string => join(fixtures, name)
const out = mkdtempSync(join(tmpdir(), 'tripletkit-cli-'))
const X = readNpy(readFileSync(f('x_f32.npy')))
const x = { data: X.data as Float32Array, rows: 7, cols: 3 }
const labels = [0, 1, 0, 1, 2, 2, 0]

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import=tsx', join(root, 'src', 'cli', 'main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('knn writes the indices and distances the library computes', (t) => {
  const r = cli('knn', f('x_f32.npy'), f('x_f64.npy'), '--k', '3', '--exclude-self', '--out', join(out, 'i.npy'), '--distances', join(out, 'd.npy'), '--device', 'cpu')
  t.is(r.status, 0, r.stderr)
  const want = knnSync(x, x, { k: 3, excludeSelf: true, device: 'cpu' })
  t.deepEqual(readNpy(readFileSync(join(out, 'i.npy'))), { dtype: 'int32', shape: [7, 3], data: want.indices })
  t.deepEqual(readNpy(readFileSync(join(out, 'd.npy'))), { dtype: 'float32', shape: [7, 3], data: want.distances })
})

test('mine writes (anchor, positive, negative) rows from int64 labels', (t) => {
  const r = cli('mine', f('x_f32.npy'), f('labels_i64.npy'), '--strategy', 'all', '--out', join(out, 't.npy'), '--quiet')
  t.is(r.status, 0, r.stderr)
  const want = mineTripletsSync(x, labels, { strategy: 'all' })
  const got = readNpy(readFileSync(join(out, 't.npy')))
  t.deepEqual(got.shape, [want.length, 3])
  const rows = Array.from({ length: want.length }, (_, i) => Array.from(got.data.subarray(3 * i, 3 * i + 3) as Int32Array))
  t.deepEqual(rows, Array.from({ length: want.length }, (_, i) => [want.anchor[i], want.positive[i], want.negative[i]]))
})

test('mine --sample N --seed S writes the sample the library keeps', (t) => {
  const r = cli('mine', f('x_f32.npy'), f('labels_i32.npy'), '--strategy', 'all', '--sample', '7', '--seed', '5', '--max-triplets', '1', '--out', join(out, 's.npy'), '--quiet')
  t.is(r.status, 0, r.stderr)
  const want = mineTripletsSync(x, labels, { strategy: 'all', sample: { count: 7, seed: 5 } })
  t.is(want.length, 7)
  const got = readNpy(readFileSync(join(out, 's.npy')))
  t.deepEqual(got.shape, [7, 3])
  t.deepEqual(Array.from(got.data as Int32Array), Array.from({ length: 7 }, (_, i) => [want.anchor[i], want.positive[i], want.negative[i]]).flat())
  const refused = cli('mine', f('x_f32.npy'), f('labels_i32.npy'), '--strategy', 'batch-hard', '--sample', '3', '--out', join(out, 'n.npy'))
  t.is(refused.status, 1)
  t.regex(refused.stderr, /opts\.sample: expected a set strategy/)
  const seedAlone = cli('mine', f('x_f32.npy'), f('labels_i32.npy'), '--strategy', 'all', '--seed', '3', '--out', join(out, 'n.npy'))
  t.is(seedAlone.status, 1)
  t.regex(seedAlone.stderr, /--seed: expected it with --sample/)
})

test('eval prints the retrieval metrics, as a table or JSON, with or without a reference set', (t) => {
  const r = cli('eval', f('x_f32.npy'), f('labels_i32.npy'), '--json', '--k', '2')
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout), retrievalMetricsSync(x, labels, { k: 2 }))
  const withRef = cli('eval', f('x_f32.npy'), f('labels_i32.npy'), '--reference', f('x_f64.npy'), '--reference-labels', f('labels_i64.npy'), '--json')
  t.deepEqual(JSON.parse(withRef.stdout), retrievalMetricsSync(x, labels, { reference: x, referenceLabels: labels }))
  const table = cli('eval', f('x_f32.npy'), f('labels_i32.npy'))
  t.regex(table.stdout, /^precisionAt1 +\d\.\d{4}\n/)
})

test('bad files end with a message naming the file and exit code 1', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['eval', f('x_fortran.npy'), f('labels_i32.npy')], /x_fortran\.npy: expected C order/],
    [['eval', f('x_f16.npy'), f('labels_i32.npy')], /x_f16\.npy: expected little-endian float32.*received '<f2'/],
    [['eval', f('x_truncated.npy'), f('labels_i32.npy')], /x_truncated\.npy: .*truncated/],
    [['eval', f('README.md'), f('labels_i32.npy')], /README\.md: expected a \.npy file/],
    [['eval', f('missing.npy'), f('labels_i32.npy')], /missing\.npy: cannot read it \(ENOENT\)/],
    [['eval', f('x_f32.npy'), f('x_f32.npy')], /x_f32\.npy: expected a 1-D array of labels/],
    [['eval', f('x_1d.npy'), f('labels_i32.npy')], /x_1d\.npy: expected a 2-D array/],
    [['mine', f('x_f32.npy'), f('x_1d.npy'), '--out', join(out, 'n.npy')], /x_1d\.npy: expected integer labels/],
    [['knn', f('x_f32.npy'), f('x_f32.npy'), '--k', '9', '--out', join(out, 'n.npy')], /--k: expected an integer from 1 to 7/],
  ]
  for (const [args, message] of cases) {
    const r = cli(...args)
    t.is(r.status, 1, args.join(' '))
    t.regex(r.stderr, new RegExp(`^tripletkit: (\\S*/)?${message.source}`))
  }
})

test('a wrong command line exits with code 2 and the usage; --help with 0', (t) => {
  for (const args of [['knn', f('x_f32.npy'), f('x_f32.npy'), '--out', 'o.npy'], ['knn', f('x_f32.npy'), f('x_f32.npy'), '--k', 'zero', '--out', 'o.npy'],
    ['mine', f('x_f32.npy'), f('labels_i32.npy'), '--strategy', 'hardest', '--out', 'o.npy'], ['frobnicate'], ['eval', '--device', 'tpu', 'a', 'b']]) {
    const r = cli(...args)
    t.is(r.status, 2, args.join(' '))
    t.regex(r.stderr, /error: .*\n[\s\S]*Usage: tripletkit/)
  }
  const help = cli('--help')
  t.is(help.status, 0)
  for (const command of ['knn', 'mine', 'eval', 'bench', 'demo']) t.regex(help.stdout, new RegExp(`\\n  ${command}`))
  const knnHelp = cli('knn', '--help')
  t.is(knnHelp.status, 0)
  t.regex(knnHelp.stdout, /--exclude-self[\s\S]*--device <device>/)
})

test('demo trains and prints retrieval before and after', (t) => {
  const r = cli('demo', '--quiet')
  t.is(r.status, 0, r.stderr)
  const [before, after] = [...r.stdout.matchAll(/MAP@R (\d\.\d+)/g)].map((m) => Number(m[1]))
  t.true(after > before + 0.3, r.stdout)
})

test('bench prints a table of cpu against js', (t) => {
  const r = cli('bench', '--reps', '1', '--quiet')
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /\| op \| cpu \| js \| js \/ cpu \|/)
  t.is([...r.stdout.matchAll(/^\| \w+ .* \| [\d.]+ \| [\d.]+ \| [\d.]+× \|$/gm)].length, 4, r.stdout)
})
