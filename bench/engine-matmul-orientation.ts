/**
 * The two ways to take a weight's gradient from rows (never part of npm test):
 *   npx tsx bench/engine-matmul-orientation.ts [--rows N]
 * For the weights of the world's width-128 backbone ([in, out] with rows x [N, in], dy [N, out]),
 * times x^T dy and (dy^T x)^T through onnxruntime-node in one run and prints their ratio: the fused
 * layers' linear (engine/model/composites.ts) takes the second when the weight is wider than tall.
 */
import { loadavg } from 'node:os';
import { Graph, type Tensor, type TensorData } from '../engine/graph';
import * as op from '../engine/ops';
import { serializeModel } from '../engine/onnx';
import { Runner } from '../engine/runner';
import { benchArgs } from './engine-model-common';

const { flag } = benchArgs();
const N = flag('--rows', 8178); // the world's long pretraining batch
const REPS = 8; // products per run, each from its own dy, so onnxruntime cannot share them
const runner = new Runner({ intraOpThreads: 2, spinning: true });
const load0 = loadavg()[0];
const wave = (shape: number[]): TensorData => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i * 12.9898)),
});

/** Median ms of one product x [N, k] by dy [N, m] -> [k, m], computed as `form`. */
async function time(k: number, m: number, form: (x: Tensor, dy: Tensor) => Tensor): Promise<number> {
  const g = new Graph();
  const x = g.input('x', 'float32', [N, k]);
  const dys = Array.from({ length: REPS }, (_, i) => g.input(`dy${i}`, 'float32', [N, m]));
  g.output('s', op.reduceSum(dys.map((dy) => form(x, dy)).reduce((a, b) => op.add(a, b))));
  const name = `w${k}x${m}-${runs++}`;
  await runner.load(name, serializeModel(g));
  await runner.setState({ x: wave([N, k]), ...Object.fromEntries(dys.map((_, i) => [`dy${i}`, wave([N, m])])) });
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) ts.push((await runner.run(name)).runMs);
  await runner.unload(name);
  return ts.sort((a, b) => a - b)[4] / REPS;
}
let runs = 0;

console.log(`weight gradient from ${N} rows; 2 threads, spinning; load ${load0.toFixed(2)}`);
console.log('weight [in, out]   x^T dy (ms)  (dy^T x)^T (ms)  ratio');
// q/k/v (with the rotated copies), gate and up, down, one head's rows of o_proj
for (const [k, m] of [
  [128, 448],
  [128, 352],
  [352, 128],
  [64, 128],
]) {
  const direct = await time(k, m, (x, dy) => op.matmul(op.transposeLast2(x), dy));
  const flipped = await time(k, m, (x, dy) => op.transposeLast2(op.matmul(op.transposeLast2(dy), x)));
  console.log(
    `[${k}, ${m}]`.padEnd(19) +
      direct.toFixed(2).padStart(11) +
      flipped.toFixed(2).padStart(17) +
      `${(direct / flipped).toFixed(2)}x`.padStart(7),
  );
}
console.log(`load average at the end: ${loadavg()[0].toFixed(2)}`);
await runner.close();
