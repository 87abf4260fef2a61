import { Graph, type DType, type Dim, type Tensor, type TensorData } from '../../../engine/graph';
import * as op from '../../../engine/ops';
import { grad } from '../../../engine/autodiff';
import { serializeModel } from '../../../engine/onnx';
import { createSession, runSession } from '../../../engine/runner/session';

// 'basic' optimization: onnxruntime's extended fusions (e.g. x*sigmoid(x) -> com.microsoft.QuickGelu)
// produce contrib kernels that exist only in float32, so float64 programs must not use them.
const SESSION = { intraOpThreads: 1, graphOptimization: 'basic' } as const;

export interface CheckInput {
  name: string;
  shape: number[];
  values: number[];
  dtype?: DType;
  /** Differentiate with respect to this input (default: true for float64 inputs). */
  diff?: boolean;
  /** Shape declared in the graph when it differs from the fed one (symbolic dims). */
  declared?: Dim[];
}

export interface CheckResult {
  worst: number;
  checked: number;
}

/** Deterministic pseudo-random numbers in [lo, hi). */
export function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  });
}

function feedsOf(inputs: CheckInput[], override?: Map<string, number[]>): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const i of inputs) {
    const dtype = i.dtype ?? 'float64';
    const vals = override?.get(i.name) ?? i.values;
    const data =
      dtype === 'int64'
        ? BigInt64Array.from(vals, (v) => BigInt(v))
        : dtype === 'bool'
          ? Uint8Array.from(vals)
          : dtype === 'float32'
            ? Float32Array.from(vals)
            : Float64Array.from(vals);
    feeds[i.name] = { dtype, shape: i.shape, data };
  }
  return feeds;
}

/**
 * Compares the compiled reverse-mode gradient of `build` (reduced to a scalar through fixed random
 * weights when it is not one) with central finite differences in float64.
 * Criterion: |analytic - numeric| <= tol * max(1, |analytic|, |numeric|).
 */
export async function gradCheck(
  build: (x: Record<string, Tensor>, g: Graph) => Tensor,
  inputs: CheckInput[],
  opts: { tol?: number; h?: number } = {},
): Promise<CheckResult> {
  const tol = opts.tol ?? 1e-6;
  const h = opts.h ?? 1e-6;
  const make = (withGrads: boolean) => {
    const g = new Graph();
    const xs: Record<string, Tensor> = {};
    for (const i of inputs) xs[i.name] = g.input(i.name, i.dtype ?? 'float64', i.shape);
    let y = build(xs, g);
    if (y.rank > 0) {
      const n = y.shape.reduce<number>((a, d) => a * (d as number), 1);
      const w = op.constant(g, {
        dtype: y.dtype,
        shape: y.shape as number[],
        data: Float64Array.from(rand(n, 99, 0.5, 1.5)),
      });
      y = op.reduceSum(op.mul(y, w));
    }
    g.output('loss', y);
    const diff = inputs.filter((i) => i.diff ?? (i.dtype ?? 'float64') === 'float64');
    if (withGrads)
      grad(
        y,
        diff.map((i) => xs[i.name]),
      ).forEach((t, k) => g.output(`grad_${diff[k].name}`, t));
    return { model: serializeModel(g), diff };
  };
  const full = make(true);
  const fwd = make(false);
  const s1 = await createSession(full.model, SESSION);
  const s0 = await createSession(fwd.model, SESSION);
  const res = await runSession(s1, feedsOf(inputs));
  let worst = 0;
  let checked = 0;
  for (const i of full.diff) {
    const analytic = res[`grad_${i.name}`].data as Float64Array;
    for (let k = 0; k < i.values.length; k++) {
      const f = async (delta: number) => {
        const v = [...i.values];
        v[k] += delta;
        const r = await runSession(s0, feedsOf(inputs, new Map([[i.name, v]])));
        return (r.loss.data as Float64Array)[0];
      };
      const numeric = ((await f(h)) - (await f(-h))) / (2 * h);
      const a = analytic[k];
      const err = Math.abs(a - numeric) / Math.max(1, Math.abs(a), Math.abs(numeric));
      checked++;
      if (!(err <= tol))
        throw new Error(
          `gradient of ${i.name}[${k}]: analytic ${a}, numeric ${numeric}, relative error ${err} > ${tol}`,
        );
      worst = Math.max(worst, err);
    }
  }
  await s0.release();
  await s1.release();
  return { worst, checked };
}

/** An input of the given shape with values uniform in [lo, hi), seeded. */
export function randomInput(name: string, shape: number[], seed: number, lo = -1, hi = 1): CheckInput {
  return {
    name,
    shape,
    values: rand(
      shape.reduce((a, b) => a * b, 1),
      seed,
      lo,
      hi,
    ),
  };
}
