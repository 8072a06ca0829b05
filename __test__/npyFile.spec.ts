/**
 * openNpy: row ranges by positioned reads equal the same rows of the whole array (versions 1
 * to 3, every dtype, 1-D and 3-D), a file past 4 GiB reads its last rows, and a truncated or
 * foreign file is refused with a message that names it.
 */
import test from 'ava'
import { closeSync, mkdtempSync, openSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openNpy, readNpy, writeNpy, type NpyArray } from '../index'

const dir = mkdtempSync(join(tmpdir(), 'tripletkit-npyfile-'))

/** The same array re-headed as format version `major` (2 and 3 have a 4-byte header length). */
function asVersion(bytes: Uint8Array, major: 1 | 2 | 3): Uint8Array {
  if (major === 1) return bytes
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true)
  const header = bytes.subarray(10, 10 + headerLength)
  const out = new Uint8Array(12 + headerLength + (bytes.length - 10 - headerLength))
  out.set(bytes.subarray(0, 8))
  out[6] = major
  new DataView(out.buffer).setUint32(8, headerLength, true)
  out.set(header, 12)
  out.set(bytes.subarray(10 + headerLength), 12 + headerLength)
  return out
}

const arrays: { name: string; array: Pick<NpyArray, 'data' | 'shape'> }[] = [
  { name: 'float32 matrix', array: { data: Float32Array.from({ length: 7 * 3 }, (_, i) => i / 7 - 1), shape: [7, 3] } },
  { name: 'float64 matrix', array: { data: Float64Array.from({ length: 5 * 4 }, (_, i) => Math.PI * i), shape: [5, 4] } },
  { name: 'int32 vector', array: { data: Int32Array.from([3, -1, 2 ** 31 - 1, 0, 9]), shape: [5] } },
  { name: 'int64 3-D', array: { data: BigInt64Array.from([1n, -2n, 3n, 2n ** 62n, 5n, 6n, 7n, 8n]), shape: [2, 2, 2] } },
]

for (const { name, array } of arrays) {
  for (const major of [1, 2, 3] as const) {
    test(`openNpy reads every row range of a ${name}, format ${major}, as the whole array has it`, (t) => {
      const path = join(dir, `${name.replace(/\W/g, '_')}-${major}.npy`)
      const bytes = asVersion(writeNpy(array), major)
      writeFileSync(path, bytes)
      const whole = readNpy(bytes)
      const file = openNpy(path)
      t.is(file.dtype, whole.dtype)
      t.deepEqual([...file.shape], whole.shape)
      const rows = whole.shape[0]
      const per = whole.data.length / rows
      for (let start = 0; start <= rows; start++) {
        for (let end = start; end <= rows; end++) t.deepEqual(file.readRows(start, end), whole.data.slice(start * per, end * per), `rows [${start}, ${end})`)
      }
      t.throws(() => file.readRows(0, rows + 1), { instanceOf: RangeError, message: new RegExp(`expected 0 ≤ start ≤ end ≤ ${rows}`) })
      // Into a buffer of one's own: a view of its start, the rest untouched.
      const into = new (whole.data.constructor as new (n: number) => NpyArray['data'])(whole.data.length + 1)
      const view = file.readRows(1, rows, into)
      t.is(view.buffer, into.buffer)
      t.deepEqual(view, whole.data.slice(per))
      t.throws(() => file.readRows(0, rows, new Uint8Array(1000) as never), { instanceOf: TypeError, message: /into: expected a/ })
      file.close()
      t.throws(() => file.readRows(0, 1), { message: /the file is closed/ })
    })
  }
}

test('openNpy reads the last rows of a file past 4 GiB (a sparse file) by positioned reads', (t) => {
  const rows = 2 ** 27 + 3, cols = 10 // 5.4 GB of float32
  const path = join(dir, 'huge.npy')
  const head = writeNpy({ data: new Float32Array(0), shape: [0, cols] })
  // The shape grows by some characters and the padding shrinks by as many.
  const shape = `(${rows}, 10)`
  const header = Buffer.from(head).toString('latin1').replace('(0, 10)', shape).replace(' '.repeat(shape.length - 7) + '\n', '\n')
  const bytes = Buffer.from(header, 'latin1')
  t.is(bytes.length, head.length, 'the header keeps its length')
  writeFileSync(path, bytes)
  truncateSync(path, bytes.length + rows * cols * 4)
  const last = Float32Array.from({ length: cols }, (_, i) => i + 0.5)
  const fd = openSync(path, 'r+')
  writeSync(fd, new Uint8Array(last.buffer), 0, last.byteLength, bytes.length + (rows - 1) * cols * 4)
  closeSync(fd)
  t.true(statSync(path).size > 2 ** 32)
  const file = openNpy(path)
  t.deepEqual([...file.shape], [rows, cols])
  const tail = file.readRows(rows - 2, rows) as Float32Array
  t.deepEqual([...tail.subarray(0, cols)], new Array(cols).fill(0))
  t.deepEqual(tail.subarray(cols), last)
  file.close()
  truncateSync(path, 0)
})

test('openNpy refuses a truncated or foreign file, naming it', (t) => {
  const good = writeNpy({ data: new Float32Array(12), shape: [4, 3] })
  const truncated = join(dir, 'truncated.npy')
  writeFileSync(truncated, good.subarray(0, good.length - 5))
  t.throws(() => openNpy(truncated), { instanceOf: RangeError, message: /truncated\.npy: expected 48 bytes of data for shape \(4, 3\) float32, received 43 \(a truncated file\)/ })
  const cut = join(dir, 'cut-header.npy')
  writeFileSync(cut, good.subarray(0, 40))
  t.throws(() => openNpy(cut), { instanceOf: RangeError, message: /cut-header\.npy: expected a \.npy header, received a truncated file/ })
  const text = join(dir, 'text.npy')
  writeFileSync(text, 'not an array at all')
  t.throws(() => openNpy(text), { instanceOf: TypeError, message: /text\.npy: expected a \.npy file/ })
  t.throws(() => openNpy(join(dir, 'missing.npy')), { code: 'ENOENT' })
})
