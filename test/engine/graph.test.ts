import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, tensorData } from '../../engine/graph';
import * as op from '../../engine/ops';
import { grad } from '../../engine/autodiff';
import { serializeModel } from '../../engine/onnx';
import { Runner } from '../../engine/runner';
import { f32, i64 } from './helpers/data';

const runner = new Runner({ intraOpThreads: 1 });
after(() => runner.close());

test('shape inference: static, symbolic and broadcast shapes', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const w = g.input('w', 'float32', [8, 4]);
  assert.deepEqual(op.matmul(x, w).shape, ['batch', 'seq', 4]);
  assert.deepEqual(op.reshape(x, [-1, 8]).shape, ['batch*seq', 8]);
  assert.deepEqual(op.reshape(x, [0, 0, 2, 4]).shape, ['batch', 'seq', 2, 4]);
  assert.deepEqual(op.add(x, op.reshape(op.slice(w, [0], [1], [1]), [1, 8])).shape, ['batch', 'seq', 8]);
  assert.deepEqual(op.reduceSum(x, [1], true).shape, ['batch', 1, 8]);
  assert.deepEqual(op.transpose(x, [2, 0, 1]).shape, [8, 'batch', 'seq']);
  assert.deepEqual(op.slice(w, [1], [-1], [0]).shape, [6, 4]);
  assert.deepEqual(
    op.split(w, [3, 5], 0).map((t) => t.shape),
    [
      [3, 4],
      [5, 4],
    ],
  );
  assert.deepEqual(op.gather(w, g.input('i', 'int64', [2, 3]), 0).shape, [2, 3, 4]);
  assert.deepEqual(op.topK(x, 3, -1)[1].shape, ['batch', 'seq', 3]);
  assert.deepEqual(op.concat([w, w], 0).shape, [16, 4]);
  assert.deepEqual(op.expand(op.reshape(w, [8, 1, 4]), [2, 8, 3, 4]).shape, [2, 8, 3, 4]);
  assert.equal(op.reshape(op.matmul(x, w), op.shapeOf(x)).shape[2], 8);
});

test('shape errors surface at build time with the op name', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(() => op.matmul(a, b), /^Error: MatMul: inner dims differ: a\[2, 3\] @ b\[4, 5\]/);
  assert.throws(() => op.add(a, b), /^Error: Add: cannot broadcast shapes \[2, 3\] and \[4, 5\]/);
  assert.throws(() => op.reshape(a, [4, 2]), /^Error: Reshape: cannot reshape/);
  assert.throws(() => op.concat([a, b], 0), /^Error: Concat: dim 1 differs/);
  assert.throws(() => op.split(a, [1, 1], 1), /^Error: Split: sizes \[1,1\] do not sum/);
  assert.throws(() => op.softmax(a, 2), /^Error: Softmax: axis 2 out of range for rank 2/);
  assert.throws(() => op.add(a, g.input('c', 'float64', [3])), /^Error: Add: dtype mismatch/);
  assert.throws(() => op.where(a, a, a), /^Error: Where: condition must be bool/);
  assert.throws(() => op.gather(a, a), /^Error: Gather: indices must be int32\/int64/);
  assert.throws(() => g.input('a', 'float32', [1]), /name 'a' is already used/);
  const other = new Graph();
  assert.throws(() => op.add(a, other.input('z', 'float32', [2, 3])), /unrelated graphs/);
});

test('autodiff refuses to differentiate through an op without a rule, naming it', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const { carried } = op.loop(g, {
    tripCount: 2,
    carried: [x],
    body: ({ carried: [c] }) => ({ carried: [op.mul(c, 2)] }),
  });
  assert.throws(() => grad(op.reduceSum(carried[0]), [x]), /no gradient rule for Loop/);
  const y = g.input('y', 'float32', [3]);
  // A Loop that reads x only from outer scope is still seen as depending on x.
  const l2 = op.loop(g, { tripCount: 2, carried: [y], body: ({ carried: [c] }) => ({ carried: [op.add(c, x)] }) });
  assert.throws(() => grad(op.reduceSum(l2.carried[0]), [x]), /no gradient rule for Loop/);
});

test('Loop and If run with outer-scope values; scan outputs stack per iteration', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const k = g.input('k', 'float32', []);
  const n = g.input('n', 'int64', []);
  const { carried, scans } = op.loop(g, {
    tripCount: n,
    carried: [x],
    body: ({ iter, carried: [c] }) => {
      const next = op.add(op.mul(c, k), op.cast(iter, 'float32')); // k is an outer-scope value
      return { carried: [next], scans: [op.reduceSum(next)] };
    },
  });
  const [branch] = op.ifElse(
    g,
    op.greater(op.reduceSum(carried[0]), 0),
    () => [op.mul(carried[0], 10)],
    () => [op.neg(x)],
  );
  g.output('final', carried[0]);
  g.output('sums', scans[0]);
  g.output('branch', branch);
  assert.deepEqual(scans[0].shape, [null]);
  await runner.load('loop', serializeModel(g));
  const r = await runner.run('loop', { x: f32([3], [1, 2, 3]), k: f32([], [2]), n: i64([], [3]) });
  // c1 = 2c0 + 0, c2 = 2c1 + 1, c3 = 2c2 + 2
  const c0 = [1, 2, 3];
  const c1 = c0.map((v) => 2 * v);
  const c2 = c1.map((v) => 2 * v + 1);
  const c3 = c2.map((v) => 2 * v + 2);
  assert.deepEqual([...(r.outputs.final.data as Float32Array)], c3);
  const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
  assert.deepEqual([...(r.outputs.sums.data as Float32Array)], [sum(c1), sum(c2), sum(c3)]);
  assert.deepEqual(
    [...(r.outputs.branch.data as Float32Array)],
    c3.map((v) => 10 * v),
  );
});

test('serialization drops nodes no output needs (unused gradient branches)', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  op.exp(op.exp(op.exp(x))); // dead
  g.output('y', op.mul(x, 2));
  const bytes = serializeModel(g);
  assert.equal(Buffer.from(bytes).includes(Buffer.from('Exp')), false);
  assert.ok(Buffer.from(bytes).includes(Buffer.from('Mul')));
  const c = op.constant(g, tensorData('float32', [2], [1, 2]));
  assert.deepEqual(c.constValue?.shape, [2]);
});

test('a Loop whose carried value grows each iteration (a KV-cache-like concat) and a greedy pick', async () => {
  const g = new Graph();
  const start = g.input('start', 'int64', [1, 1]);
  const table = g.input('table', 'float32', [5, 5]); // next-token scores: row = current token
  const { carried, scans } = op.loop(g, {
    tripCount: 4,
    carried: [start],
    carriedShapes: [[1, null]],
    body: ({ carried: [seq] }) => {
      const last = op.slice(seq, [-1], [2 ** 62], [1]);
      const scores = op.gather(table, op.squeeze(last, [1]), 0); // [1, 5]
      const next = op.argMax(scores, -1, true); // [1, 1]
      return { carried: [op.concat([seq, next], 1)], scans: [op.squeeze(next, [0, 1])] };
    },
  });
  assert.deepEqual(carried[0].shape, [1, null]);
  g.output('seq', carried[0]);
  g.output('picked', scans[0]);
  await runner.load('grow', serializeModel(g));
  // token t -> (t * 2 + 1) % 5
  const tbl = Array.from({ length: 25 }, (_, i) => (i % 5 === (Math.floor(i / 5) * 2 + 1) % 5 ? 1 : 0));
  const r = await runner.run('grow', { start: i64([1, 1], [0]), table: f32([5, 5], tbl) });
  assert.deepEqual(Array.from(r.outputs.seq.data as BigInt64Array, Number), [0, 1, 3, 2, 0]);
  assert.deepEqual(r.outputs.seq.shape, [1, 5]);
  assert.deepEqual(Array.from(r.outputs.picked.data as BigInt64Array, Number), [1, 3, 2, 0]);
});
