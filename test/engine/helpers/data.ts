import type { TensorData } from '../../../engine/graph';
import { xorshift32 } from '../../../engine/rng';

export const rng = xorshift32;

export function f32(shape: number[], values: ArrayLike<number>): TensorData {
  return { dtype: 'float32', shape, data: Float32Array.from(values) };
}

export function i64(shape: number[], values: ArrayLike<number>): TensorData {
  return { dtype: 'int64', shape, data: BigInt64Array.from(Array.from(values), (v) => BigInt(v)) };
}

/** Stacks tensors of equal shape along a new leading axis. */
export function stack(ts: TensorData[]): TensorData {
  const n = ts[0].data.length;
  const Ctor = ts[0].data.constructor as new (n: number) => TensorData['data'];
  const data = new Ctor(n * ts.length);
  ts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * n));
  return { dtype: ts[0].dtype, shape: [ts.length, ...ts[0].shape], data };
}

/** MLP regression batch: y = sin(2 x0) + x1 x2 - 0.5 x3. */
export function mlpBatch(seed: number, b = 8): { x: TensorData; y: TensorData } {
  const r = rng(seed);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < b; i++) {
    const v = [0, 1, 2, 3].map(() => 2 * r() - 1);
    x.push(...v);
    y.push(Math.sin(2 * v[0]) + v[1] * v[2] - 0.5 * v[3]);
  }
  return { x: f32([b, 4], x), y: f32([b, 1], y) };
}

/** Sequences repeating a random period-3 pattern: predicting them needs attention to 3 tokens back. */
export function patternBatch(
  seed: number,
  b: number,
  t: number,
  vocab: number,
): { tokens: TensorData; mask: TensorData } {
  const r = rng(seed);
  const tok: number[] = [];
  for (let i = 0; i < b; i++) {
    const pat = [0, 1, 2].map(() => Math.floor(r() * vocab));
    for (let j = 0; j < t; j++) tok.push(pat[j % 3]);
  }
  return { tokens: i64([b, t], tok), mask: f32([b, t], new Array<number>(b * t).fill(1)) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
