import test from 'ava'
import { matrix, pairwiseDistancesSync } from '../index'
import { DEVICES } from './helpers/devices'

test('matrix(rows) copies an array of rows into a new row-major Float32Array', (t) => {
  const rows = [
    [1, 2, 3],
    [4, 5, 6],
  ]
  const m = matrix(rows)
  t.is(m.rows, 2)
  t.is(m.cols, 3)
  t.true(m.data instanceof Float32Array)
  t.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 6])
  rows[0][0] = 100
  t.is(m.data[0], 1, 'later changes to the rows do not show through')
})

test('matrix(rows) rounds to float32', (t) => {
  const m = matrix([[0.1, 1 / 3]])
  t.is(m.data[0], Math.fround(0.1))
  t.is(m.data[1], Math.fround(1 / 3))
})

test('matrix(Float32Array, rows, cols) wraps the array without copying', (t) => {
  const data = new Float32Array([1, 2, 3, 4, 5, 6])
  const m = matrix(data, 3, 2)
  t.is(m.data, data)
  t.is(m.rows, 3)
  t.is(m.cols, 2)
  data[5] = 60
  t.is(m.data[5], 60)
})

test('matrix(number[], rows, cols) copies the numbers', (t) => {
  const data = [1, 2, 3, 4]
  const m = matrix(data, 2, 2)
  t.true(m.data instanceof Float32Array)
  t.deepEqual(Array.from(m.data), [1, 2, 3, 4])
  data[0] = 9
  t.is(m.data[0], 1)
})

test('matrix rejects bad shapes with a RangeError and bad types with a TypeError', (t) => {
  t.throws(() => matrix([[1, 2], [3]]), { instanceOf: RangeError, message: /2/ })
  t.throws(() => matrix(new Float32Array(5), 2, 3), { instanceOf: RangeError, message: /6/ })
  t.throws(() => matrix([1, 2, 3], 2, 2), { instanceOf: RangeError })
  t.throws(() => matrix(new Float32Array(4), 2.5, 2), { instanceOf: RangeError, message: /rows/ })
  t.throws(() => matrix(new Float32Array(4), -2, -2), { instanceOf: RangeError })
  t.throws(() => matrix(new Float32Array(4), 2, NaN), { instanceOf: RangeError, message: /cols/ })
  t.throws(() => matrix('abc' as never), { instanceOf: TypeError })
  t.throws(() => matrix(new Float32Array(4) as never), { instanceOf: TypeError })
  t.throws(() => matrix([[1, 'a']] as never), { instanceOf: TypeError })
  t.throws(() => matrix([1, 2] as never), { instanceOf: TypeError })
  t.throws(() => matrix(new Float32Array(4), '2' as never, 2), { instanceOf: TypeError })
  t.throws(() => matrix({ length: 4 } as never, 2, 2), { instanceOf: TypeError })
})

for (const device of DEVICES) {
  test(`[${device}] NaN or ±Infinity in a matrix is a RangeError by the time it is used`, (t) => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      t.throws(() => pairwiseDistancesSync(matrix([[1, 2], [bad, 3]]), undefined, { device }), { instanceOf: RangeError }, String(bad))
      t.throws(() => pairwiseDistancesSync(matrix(new Float32Array([1, 2, 3, bad]), 2, 2), undefined, { device }), { instanceOf: RangeError }, String(bad))
    }
  })

  test(`[${device}] a matrix, a plain { data, rows, cols } and an array of rows give the same answer`, (t) => {
    const rows = [[1, 2], [3, 5], [-1, 0]]
    const want = pairwiseDistancesSync(rows, undefined, { device }).data
    t.deepEqual(pairwiseDistancesSync(matrix(rows), undefined, { device }).data, want)
    t.deepEqual(pairwiseDistancesSync(matrix(rows.flat(), 3, 2), undefined, { device }).data, want)
    t.deepEqual(pairwiseDistancesSync({ data: new Float32Array(rows.flat()), rows: 3, cols: 2 }, undefined, { device }).data, want)
  })

  test(`[${device}] a result matrix feeds straight back in`, (t) => {
    const d = pairwiseDistancesSync([[0], [3], [4]], undefined, { device })
    // rows of D: [0 3 4], [3 0 1], [4 1 0]; row 1 to row 2: √(1 + 1 + 1) = √3
    const dd = pairwiseDistancesSync(d, undefined, { device })
    t.true(Math.abs(dd.data[1 * 3 + 2] - Math.sqrt(3)) < 1e-6)
  })
}
