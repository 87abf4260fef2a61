import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor } from '../../engine/graph';
import * as op from '../../engine/ops';
import { gradCheck, randomInput, type CheckInput } from './helpers/gradcheck';

// Every differentiable op, checked against central finite differences in float64
// (onnxruntime 1.30's CPU provider has float64 kernels for all of them). Cast is checked through float32:
// linear there, so a step of 1e-2 is exact up to float32 rounding (~6e-8 / 2e-2), hence the stated tolerance 1e-5.
const X = randomInput;
const I = (name: string, shape: number[], values: number[]): CheckInput => ({ name, shape, values, dtype: 'int64' });
/** A float64 input held constant (a mask). */
const M = (name: string, shape: number[], values: number[]): CheckInput => ({ name, shape, values, diff: false });

type Case = [string, (x: Record<string, Tensor>) => Tensor, CheckInput[], { tol: number; h: number }?];
const cases: Case[] = [
  ['MatMul 2D', (x) => op.matmul(x.a, x.b), [X('a', [3, 4], 1), X('b', [4, 2], 2)]],
  // a weight wider than tall (the fused layers' linear flips its weight gradient; this rule does not)
  ['MatMul 2D, wider than tall', (x) => op.matmul(x.a, x.b), [X('a', [3, 2], 82), X('b', [2, 5], 83)]],
  ['MatMul batched x 2D', (x) => op.matmul(x.a, x.b), [X('a', [2, 3, 4], 3), X('b', [4, 5], 4)]],
  ['MatMul broadcast batch', (x) => op.matmul(x.a, x.b), [X('a', [2, 1, 3, 4], 5), X('b', [3, 4, 2], 6)]],
  ['Add broadcast', (x) => op.add(x.a, x.b), [X('a', [2, 3], 7), X('b', [3], 8)]],
  ['Sub broadcast', (x) => op.sub(x.a, x.b), [X('a', [2, 1], 9), X('b', [1, 3], 10)]],
  ['Mul broadcast', (x) => op.mul(x.a, x.b), [X('a', [2, 3], 11), X('b', [2, 1], 12)]],
  ['Div', (x) => op.div(x.a, x.b), [X('a', [2, 3], 13), X('b', [3], 14, 0.5, 2)]],
  ['Neg', (x) => op.neg(x.a), [X('a', [5], 15)]],
  ['Pow base and exponent', (x) => op.pow(x.a, x.b), [X('a', [4], 16, 0.5, 2), X('b', [4], 17, -2, 2)]],
  ['Pow constant exponent', (x) => op.pow(x.a, 3), [X('a', [4], 18)]],
  ['Sqrt', (x) => op.sqrt(x.a), [X('a', [4], 19, 0.2, 3)]],
  ['Exp', (x) => op.exp(x.a), [X('a', [4], 20)]],
  ['Log', (x) => op.log(x.a), [X('a', [4], 21, 0.2, 3)]],
  ['Min', (x) => op.min(x.a, x.b), [X('a', [6], 22), X('b', [6], 23)]],
  ['Max broadcast', (x) => op.max(x.a, x.b), [X('a', [2, 3], 24), X('b', [3], 25)]],
  ['Clip', (x) => op.clip(x.a, -0.5, 0.5), [{ name: 'a', shape: [6], values: [-0.9, -0.3, 0.1, 0.45, 0.7, -0.6] }]],
  ['Where', (x) => op.where(op.greater(x.c, 0), x.a, x.b), [X('a', [2, 3], 26), X('b', [3], 27), X('c', [2, 3], 28)]],
  [
    'Cast (through float32)',
    (x) => op.cast(op.mul(op.cast(x.a, 'float32'), 2), 'float64'),
    [X('a', [3], 29)],
    { tol: 1e-5, h: 1e-2 },
  ],
  ['Sigmoid', (x) => op.sigmoid(x.a), [X('a', [5], 30, -3, 3)]],
  ['Tanh', (x) => op.tanh(x.a), [X('a', [5], 31, -2, 2)]],
  ['Sin', (x) => op.sin(x.a), [X('a', [5], 67, -3, 3)]],
  ['Cos', (x) => op.cos(x.a), [X('a', [5], 68, -3, 3)]],
  ['Relu', (x) => op.relu(x.a), [{ name: 'a', shape: [4], values: [-0.7, -0.2, 0.3, 1.1] }]],
  ['Abs', (x) => op.abs(x.a), [{ name: 'a', shape: [4], values: [-0.7, -0.2, 0.3, 1.1] }]],
  ['Reciprocal', (x) => op.reciprocal(x.a), [X('a', [4], 32, 0.5, 2)]],
  ['Identity', (x) => op.identity(x.a), [X('a', [3], 33)]],
  ['Reshape', (x) => op.reshape(x.a, [3, -1]), [X('a', [2, 3, 2], 34)]],
  ['Transpose', (x) => op.transpose(x.a, [2, 0, 1]), [X('a', [2, 3, 2], 35)]],
  ['Unsqueeze', (x) => op.unsqueeze(x.a, [0, 2]), [X('a', [2, 3], 36)]],
  ['Squeeze', (x) => op.squeeze(x.a, [1]), [X('a', [2, 1, 3], 37)]],
  ['Concat', (x) => op.concat([x.a, x.b, x.a], 1), [X('a', [2, 2], 38), X('b', [2, 3], 39)]],
  ['Slice', (x) => op.slice(x.a, [1, 0], [3, -1], [0, 1]), [X('a', [4, 3], 40)]],
  ['Split', (x) => op.mul(op.split(x.a, [1, 2], 1)[1], 2), [X('a', [2, 3], 41)]],
  ['Split all parts', (x) => op.concat(op.split(x.a, 2, 0).reverse(), 0), [X('a', [4, 2], 42)]],
  ['Expand', (x) => op.expand(x.a, [2, 3, 4]), [X('a', [3, 1], 43)]],
  ['Pad', (x) => op.pad(x.a, [1, 0, 0, 2]), [X('a', [2, 2], 44)]],
  [
    'Gather axis 0 (repeated indices)',
    (x) => op.gather(x.a, x.i, 0),
    [X('a', [4, 3], 45), I('i', [2, 3], [0, 2, 2, 3, 0, 0])],
  ],
  [
    'gatherRows (a row read once, one unread)',
    (x) => op.gatherRows(x.a, x.i, x.inv),
    [X('a', [5, 3], 53), I('i', [2, 2], [3, 0, 4, 1]), I('inv', [5], [1, 3, 4, 0, 2])],
  ],
  [
    // the repeated read of row 2 is masked out downstream: its gradient is zero, as gatherRows requires
    'gatherRows (a padding slot with zero gradient)',
    (x) => op.mul(op.gatherRows(x.a, x.i, x.inv), x.m),
    [X('a', [4, 3], 54), I('i', [2, 2], [1, 0, 2, 2]), I('inv', [4], [1, 0, 2, 4]), M('m', [2, 2, 1], [1, 1, 1, 0])],
  ],
  [
    // parts of run-time sizes 2, 1, 2; the middle one unused, row 5 read by nobody
    'gatherRowsSplit (parts by run-time sizes, one unused)',
    (x) => {
      const [p, , r] = op.gatherRowsSplit(x.a, x.i, x.inv, x.s);
      return op.reshape(op.concat([op.mul(p, 2), op.neg(r)], 0), [12]); // a static shape for the check
    },
    [X('a', [6, 3], 84), I('i', [5], [3, 0, 2, 1, 4]), I('inv', [6], [1, 3, 2, 0, 4, 5]), I('s', [3], [2, 1, 2])],
  ],
  ['Gather axis 1', (x) => op.gather(x.a, x.i, 1), [X('a', [2, 4, 3], 46), I('i', [3], [3, 1, 3])]],
  ['GatherElements', (x) => op.gatherElements(x.a, x.i, 1), [X('a', [2, 3], 47), I('i', [2, 2], [0, 2, 2, 2])]],
  ['GatherND', (x) => op.gatherND(x.a, x.i), [X('a', [3, 2], 48), I('i', [2, 1], [2, 0])]],
  ['ScatterND', (x) => op.scatterND(x.a, x.i, x.u), [X('a', [4, 2], 49), I('i', [2, 1], [3, 1]), X('u', [2, 2], 50)]],
  [
    'ScatterND add',
    (x) => op.scatterND(x.a, x.i, x.u, 'add'),
    [X('a', [4, 2], 51), I('i', [2, 1], [1, 1]), X('u', [2, 2], 52)],
  ],
  [
    'ScatterElements',
    (x) => op.scatterElements(x.a, x.i, x.u, 1),
    [X('a', [2, 3], 53), I('i', [2, 1], [2, 0]), X('u', [2, 1], 54)],
  ],
  [
    'ScatterElements add',
    (x) => op.scatterElements(x.a, x.i, x.u, 0, 'add'),
    [X('a', [3, 2], 80), I('i', [2, 2], [1, 1, 1, 0]), X('u', [2, 2], 81)],
  ],
  ['ReduceSum', (x) => op.reduceSum(x.a, [1]), [X('a', [2, 3, 2], 55)]],
  ['ReduceSumSquare', (x) => op.reduceSumSquare(x.a, [0]), [X('a', [3, 2], 66)]],
  ['ReduceSum keepdims all', (x) => op.reduceSum(x.a, undefined, true), [X('a', [2, 3], 56)]],
  ['ReduceMean', (x) => op.reduceMean(x.a, [0, 2]), [X('a', [2, 3, 2], 57)]],
  ['ReduceMax', (x) => op.reduceMax(x.a, [1]), [X('a', [3, 4], 58)]],
  ['ReduceMin keepdims', (x) => op.reduceMin(x.a, [0], true), [X('a', [3, 4], 59)]],
  ['TopK values', (x) => op.topK(x.a, 2, 1)[0], [X('a', [2, 5], 60)]],
  ['CumSum', (x) => op.cumSum(x.a, 1), [X('a', [2, 4], 61)]],
  ['CumSum exclusive reverse', (x) => op.cumSum(x.a, 0, { exclusive: true, reverse: true }), [X('a', [4, 2], 62)]],
  ['Softmax', (x) => op.softmax(x.a, -1), [X('a', [2, 5], 63, -2, 2)]],
  ['Softmax axis 0', (x) => op.softmax(x.a, 0), [X('a', [3, 2], 64, -2, 2)]],
  ['LogSoftmax', (x) => op.logSoftmax(x.a, -1), [X('a', [2, 5], 65, -2, 2)]],
];

// The same rules on symbolic shapes take their dynamic paths (Shape/Gather/ConstantOfShape, Size-based counts).
const S = (name: string, shape: number[], declared: (number | string)[], seed: number): CheckInput => ({
  ...X(name, shape, seed),
  declared,
});
cases.push(
  ['MatMul symbolic batch', (x) => op.matmul(x.a, x.b), [S('a', [2, 3, 4], ['b', 't', 4], 70), X('b', [4, 2], 71)]],
  ['Add symbolic broadcast', (x) => op.add(x.a, x.b), [S('a', [2, 3], ['b', 3], 72), X('b', [3], 73)]],
  [
    'Concat symbolic axis',
    (x) => op.concat([x.a, x.b], 1),
    [S('a', [2, 3], [2, 's'], 74), S('b', [2, 2], [2, 'u'], 75)],
  ],
  ['ReduceMean symbolic', (x) => op.reduceMean(x.a, [1]), [S('a', [2, 3, 2], ['b', 't', 2], 76)]],
  ['Gather axis 1 symbolic', (x) => op.gather(x.a, x.i, 1), [S('a', [2, 4, 3], ['b', 4, 3], 77), I('i', [2], [3, 3])]],
  ['Reshape symbolic', (x) => op.reshape(x.a, [-1, 2]), [S('a', [3, 2, 2], ['b', 2, 2], 78)]],
  ['Softmax symbolic', (x) => op.softmax(x.a), [S('a', [2, 5], ['b', 's'], 79)]],
);

let worst = 0;
let checked = 0;
for (const [name, build, inputs, opts] of cases) {
  test(`grad ${name}`, async () => {
    const r = await gradCheck(build, inputs, opts);
    assert.ok(r.checked > 0);
    if (!opts) worst = Math.max(worst, r.worst);
    checked += r.checked;
  });
}
after(() =>
  console.log(`# op gradient checks: ${checked} partial derivatives, worst relative error ${worst.toExponential(2)}`),
);
