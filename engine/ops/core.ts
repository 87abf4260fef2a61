import {
  type DType,
  type Dim,
  type Graph,
  type Shape,
  type TensorData,
  type Tensor,
  attr,
  graphOf,
  tensorData,
} from '../graph';
import { fmt } from '../graph/shape';

export type Operand = Tensor | number;

const constCache = new WeakMap<Graph, Map<string, Tensor>>();

/** A Constant node holding `value` in graph `g`. */
export function constant(g: Graph, value: TensorData): Tensor {
  const [t] = g.addNode('Constant', [], [{ dtype: value.dtype, shape: value.shape }], { value: attr.tensor(value) });
  t.constValue = value;
  return t;
}

/** A scalar constant (cached per graph, dtype and value). */
export function scalar(g: Graph, value: number, dtype: DType): Tensor {
  let cache = constCache.get(g);
  if (!cache) constCache.set(g, (cache = new Map()));
  const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let t = cache.get(key);
  if (!t) cache.set(key, (t = constant(g, tensorData(dtype, [], [value]))));
  return t;
}

/** A 1-D int64 constant (axes, shapes, starts...). */
export function ints(g: Graph, values: number[]): Tensor {
  return constant(g, tensorData('int64', [values.length], values));
}

/** Turns a number into a scalar constant with the dtype of `like`. */
export function lift(x: Operand, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(like.graph, x, like.dtype) : x;
}

/** Adds a node in the innermost graph of its inputs. */
export function emit(
  op: string,
  inputs: (Tensor | undefined)[],
  outs: { dtype: DType; shape: Shape }[],
  attrs: Parameters<Graph['addNode']>[3] = {},
): Tensor[] {
  return graphOf(op, ...inputs).addNode(op, inputs, outs, attrs);
}

export function emit1(
  op: string,
  inputs: (Tensor | undefined)[],
  dtype: DType,
  shape: Shape,
  attrs: Parameters<Graph['addNode']>[3] = {},
): Tensor {
  return emit(op, inputs, [{ dtype, shape }], attrs)[0];
}

export function sameDType(op: string, ...ts: Tensor[]): DType {
  for (const t of ts)
    if (t.dtype !== ts[0].dtype) throw new Error(`${op}: dtype mismatch ${ts.map((x) => x.toString()).join(' vs ')}`);
  return ts[0].dtype;
}

export function requireFloat(op: string, t: Tensor): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16')
    throw new Error(`${op}: expects a float tensor, got ${t.toString()}`);
}

export function requireRank(op: string, t: Tensor, min: number): void {
  if (t.rank < min) throw new Error(`${op}: expects rank >= ${min}, got ${t.toString()}`);
}

/** Reads a build-time constant int vector (for axes/shape inputs given as tensors). */
export function constInts(t: Tensor | undefined): number[] | undefined {
  if (!t?.constValue) return undefined;
  return Array.from(t.constValue.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function shapeStr(s: readonly Dim[]): string {
  return fmt(s);
}
