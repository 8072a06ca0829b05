// readNpy / writeNpy: files written by NumPy (fixtures/npy, see its README), round trips of every
// dtype, and the refusals with messages that say what is wrong.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readNpy, writeNpy } from '../index'

const fixture = (name: string): Buffer => readFileSync(join(__dirname, 'fixtures', 'npy', name))
const X = Float32Array.from({ length: 21 }, (_, i) => i * 0.5 - 3)
X.set(X.slice(15, 18), 6) // row 2 duplicates row 5

test('reads what NumPy wrote: float32, float64, int64, int32, 1-D and format 2.0', (t) => {
  t.deepEqual(readNpy(fixture('x_f32.npy')), { dtype: 'float32', shape: [7, 3], data: X })
  t.deepEqual(readNpy(fixture('x_v2.npy')), { dtype: 'float32', shape: [7, 3], data: X })
  t.deepEqual(readNpy(fixture('x_f64.npy')), { dtype: 'float64', shape: [7, 3], data: Float64Array.from(X) })
  t.deepEqual(readNpy(fixture('x_1d.npy')), { dtype: 'float32', shape: [21], data: X })
  t.deepEqual(readNpy(fixture('labels_i64.npy')), { dtype: 'int64', shape: [7], data: BigInt64Array.from([0n, 1n, 0n, 1n, 2n, 2n, 0n]) })
  t.deepEqual(readNpy(fixture('labels_i32.npy')), { dtype: 'int32', shape: [7], data: Int32Array.from([0, 1, 0, 1, 2, 2, 0]) })
})

test('writes what NumPy writes, byte for byte', (t) => {
  t.deepEqual(Buffer.from(writeNpy({ data: X, shape: [7, 3] })), fixture('x_f32.npy'))
  t.deepEqual(Buffer.from(writeNpy({ data: Float64Array.from(X), shape: [7, 3] })), fixture('x_f64.npy'))
  t.deepEqual(Buffer.from(writeNpy({ data: X })), fixture('x_1d.npy'))
  t.deepEqual(Buffer.from(writeNpy({ data: Int32Array.from([0, 1, 0, 1, 2, 2, 0]) })), fixture('labels_i32.npy'))
})

test('round trips every dtype and shape, including empty arrays and views at an offset', (t) => {
  const buffer = new ArrayBuffer(64)
  const cases = [
    { data: new Float32Array(buffer, 4, 6).fill(1.5), shape: [2, 3] },
    { data: new Float64Array([1e300, -0, NaN]), shape: [3] },
    { data: new Int32Array([-5, 2147483647]), shape: [1, 2] },
    { data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2, 1] },
    { data: new Float32Array(0), shape: [0, 4] },
  ]
  for (const c of cases) {
    const back = readNpy(writeNpy(c))
    t.deepEqual(back.shape, c.shape)
    t.deepEqual(back.data, c.data.slice())
  }
  // The data start on a 64-byte boundary, as NumPy aligns them.
  const bytes = writeNpy({ data: new Float32Array(5) })
  t.is((bytes.length - 20) % 64, 0)
})

test('refuses what it cannot read, naming the file and the problem', (t) => {
  t.throws(() => readNpy(fixture('x_fortran.npy'), 'x.npy'), { instanceOf: RangeError, message: /^x\.npy: expected C order, received a Fortran-order array/ })
  t.throws(() => readNpy(fixture('x_f16.npy'), 'x.npy'), { instanceOf: TypeError, message: /received '<f2'/ })
  t.throws(() => readNpy(fixture('x_big_endian.npy'), 'x.npy'), { instanceOf: TypeError, message: /received '>f4' \(big-endian/ })
  t.throws(() => readNpy(fixture('x_truncated.npy'), 'x.npy'), { instanceOf: RangeError, message: /expected 84 bytes of data for shape \(7, 3\) float32, received 74 \(a truncated file\)/ })
  t.throws(() => readNpy(Buffer.from('name,value\n1,2\n'), 'data.csv'), { instanceOf: TypeError, message: /^data\.csv: expected a \.npy file/ })
  t.throws(() => readNpy(fixture('x_f32.npy').subarray(0, 30)), { instanceOf: RangeError, message: /truncated/ })
  t.throws(() => readNpy('x.npy' as never), { instanceOf: TypeError })
  t.throws(() => writeNpy({ data: new Float32Array(6), shape: [4, 2] }), { instanceOf: RangeError, message: /product is 6/ })
  t.throws(() => writeNpy({ data: new Uint8Array(2) as never }), { instanceOf: TypeError })
})
