import { type Dim, type Tensor, attr } from '../graph';
import { dimProduct, normAxis } from '../graph/shape';
import { defineGrad } from './grad-rules';
import { emit, emit1, ints, scalar } from './core';
import { cast, div, equal, mul, where } from './elementwise';
import { expand, shapeOf, unsqueeze, zerosLike } from './shape';
import { scatterElements } from './indexing';

function reduceShape(x: Tensor, axes: number[], keepdims: boolean): Dim[] {
  return x.shape.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]));
}

function reduce(op: string, x: Tensor, axes: number[] | undefined, keepdims: boolean): Tensor {
  const ax = (axes ?? [...Array(x.rank).keys()]).map((a) => normAxis(op, a, x.rank));
  return emit1(op, [x, ints(x.graph, ax)], x.dtype, reduceShape(x, ax, keepdims), {
    keepdims: attr.int(keepdims ? 1 : 0),
  });
}

/** Sum over `axes` (all axes when omitted). */
export const reduceSum = (x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce('ReduceMean', x, axes, keepdims);
/** Sum of squares over `axes` (one pass; used for gradient norms). */
export const reduceSumSquare = (x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce('ReduceSumSquare', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce('ReduceMax', x, axes, keepdims);
export const reduceMin = (x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce('ReduceMin', x, axes, keepdims);

export function argMax(x: Tensor, axis = -1, keepdims = false): Tensor {
  const a = normAxis('ArgMax', axis, x.rank);
  return emit1('ArgMax', [x], 'int64', reduceShape(x, [a], keepdims), {
    axis: attr.int(a),
    keepdims: attr.int(keepdims ? 1 : 0),
  });
}

/** TopK along `axis`: [values, indices]. */
export function topK(x: Tensor, k: number | Tensor, axis = -1, largest = true, sorted = true): [Tensor, Tensor] {
  const a = normAxis('TopK', axis, x.rank);
  const kT = typeof k === 'number' ? ints(x.graph, [k]) : k;
  const shape = x.shape.map((d, i) => (i === a ? (typeof k === 'number' ? k : null) : d));
  const [v, i] = emit(
    'TopK',
    [x, kT],
    [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape },
    ],
    { axis: attr.int(a), largest: attr.int(largest ? 1 : 0), sorted: attr.int(sorted ? 1 : 0) },
  );
  return [v, i];
}

export function cumSum(x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  const a = normAxis('CumSum', axis, x.rank);
  return emit1('CumSum', [x, scalar(x.graph, a, 'int64')], x.dtype, x.shape, {
    exclusive: attr.int(opts.exclusive ? 1 : 0),
    reverse: attr.int(opts.reverse ? 1 : 0),
  });
}

/** Number of elements as an int64 scalar. */
export function size(x: Tensor): Tensor {
  return emit1('Size', [x], 'int64', []);
}

// ---- gradient rules ----
function reducedAxes(n: { inputs: (Tensor | undefined)[] }): number[] {
  const t = n.inputs[1]!;
  return Array.from(t.constValue!.data as BigInt64Array, Number);
}

/** Broadcasts a reduced gradient back over the reduced axes. */
function unreduce(d: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  const dk = keepdims ? d : unsqueeze(d, axes);
  return expand(dk, shapeOf(x));
}

defineGrad('ReduceSum', (n, [d]) => {
  const keep = (n.attrs.keepdims as { value: number }).value === 1;
  return [unreduce(d!, n.inputs[0]!, reducedAxes(n), keep), undefined];
});
defineGrad('ReduceSumSquare', (n, [d]) => {
  const x = n.inputs[0]!;
  const keep = (n.attrs.keepdims as { value: number }).value === 1;
  return [mul(unreduce(d!, x, reducedAxes(n), keep), mul(x, 2)), undefined];
});
defineGrad('ReduceMean', (n, [d]) => {
  const x = n.inputs[0]!;
  const axes = reducedAxes(n);
  const keep = (n.attrs.keepdims as { value: number }).value === 1;
  const count = dimProduct(axes.map((a) => x.shape[a]));
  const c =
    count !== null ? scalar(x.graph, count, x.dtype) : div(cast(size(x), x.dtype), cast(size(n.outputs[0]), x.dtype));
  return [div(unreduce(d!, x, axes, keep), c), undefined];
});
function extremumGrad(n: Parameters<Parameters<typeof defineGrad>[1]>[0], d: Tensor): Tensor {
  const x = n.inputs[0]!;
  const axes = reducedAxes(n);
  const keep = (n.attrs.keepdims as { value: number }).value === 1;
  const yk = keep ? n.outputs[0] : unsqueeze(n.outputs[0], axes);
  const mask = equal(x, yk);
  const ties = reduceSum(cast(mask, x.dtype), axes, true);
  return where(mask, div(unreduce(d, x, axes, keep), ties), scalar(x.graph, 0, x.dtype));
}
defineGrad('ReduceMax', (n, [d]) => [extremumGrad(n, d!), undefined]);
defineGrad('ReduceMin', (n, [d]) => [extremumGrad(n, d!), undefined]);
defineGrad('CumSum', (n, [d]) => {
  const axis = Number((n.inputs[1]!.constValue!.data as BigInt64Array)[0]);
  const ex = (n.attrs.exclusive as { value: number }).value === 1;
  const rev = (n.attrs.reverse as { value: number }).value === 1;
  return [cumSum(d!, axis, { exclusive: ex, reverse: !rev }), undefined];
});
defineGrad('TopK', (n, [d]) => {
  const x = n.inputs[0]!;
  if (!d) return [undefined, undefined];
  const axis = (n.attrs.axis as { value: number }).value;
  return [scatterElements(zerosLike(x), n.outputs[1], d, axis, 'add'), undefined];
});
