import { type DType, type Tensor, attr, isFloat } from '../graph';
import { broadcast } from '../graph/shape';
import { defineGrad } from './grad-rules';
import { type Operand, emit1, lift, requireFloat, sameDType, scalar } from './core';
import { sumToShape } from './broadcast';

function pair(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const x = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const y = typeof b === 'number' ? lift(b, x) : b;
  return [x, y];
}

function binary(op: string, a: Operand, b: Operand, outDType?: DType): Tensor {
  const [x, y] = pair(op, a, b);
  const dtype = sameDType(op, x, y);
  return emit1(op, [x, y], outDType ?? dtype, broadcast(op, x.shape, y.shape));
}

function unary(op: string, x: Tensor, float = true): Tensor {
  if (float) requireFloat(op, x);
  return emit1(op, [x], x.dtype, x.shape);
}

export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);
export const min = (a: Operand, b: Operand): Tensor => binary('Min', a, b);
export const max = (a: Operand, b: Operand): Tensor => binary('Max', a, b);
export const equal = (a: Operand, b: Operand): Tensor => binary('Equal', a, b, 'bool');
export const less = (a: Operand, b: Operand): Tensor => binary('Less', a, b, 'bool');
export const lessOrEqual = (a: Operand, b: Operand): Tensor => binary('LessOrEqual', a, b, 'bool');
export const greater = (a: Operand, b: Operand): Tensor => binary('Greater', a, b, 'bool');
export const greaterOrEqual = (a: Operand, b: Operand): Tensor => binary('GreaterOrEqual', a, b, 'bool');

function logical(op: string, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool') throw new Error(`${op}: expects bool tensors, got ${a} and ${b}`);
  return binary(op, a, b);
}
export const and = (a: Tensor, b: Tensor): Tensor => logical('And', a, b);
export const or = (a: Tensor, b: Tensor): Tensor => logical('Or', a, b);
export function not(x: Tensor): Tensor {
  if (x.dtype !== 'bool') throw new Error(`Not: expects a bool tensor, got ${x}`);
  return emit1('Not', [x], 'bool', x.shape);
}

export const neg = (x: Tensor): Tensor => unary('Neg', x, false);
export const abs = (x: Tensor): Tensor => unary('Abs', x, false);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const log = (x: Tensor): Tensor => unary('Log', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const sin = (x: Tensor): Tensor => unary('Sin', x);
export const cos = (x: Tensor): Tensor => unary('Cos', x);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const reciprocal = (x: Tensor): Tensor => unary('Reciprocal', x);
export const sign = (x: Tensor): Tensor => unary('Sign', x, false);
export const identity = (x: Tensor): Tensor => emit1('Identity', [x], x.dtype, x.shape);

/** Clip(x, lo, hi); either bound may be omitted. Bounds are scalars. */
export function clip(x: Tensor, lo?: Operand, hi?: Operand): Tensor {
  const l = lo === undefined ? undefined : lift(lo, x);
  const h = hi === undefined ? undefined : lift(hi, x);
  for (const b of [l, h])
    if (b && (b.rank !== 0 || b.dtype !== x.dtype))
      throw new Error(`Clip: bounds must be ${x.dtype} scalars, got ${b}`);
  return emit1('Clip', [x, l, h], x.dtype, x.shape);
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${cond}`);
  const [x, y] = pair('Where', a, b);
  const dtype = sameDType('Where', x, y);
  return emit1('Where', [cond, x, y], dtype, broadcast('Where', cond.shape, x.shape, y.shape));
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return emit1('Cast', [x], to, x.shape, { to: attr.int(ONNX_TO[to]) });
}
const ONNX_TO: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

// ---- gradient rules ----
const zero = (like: Tensor): Tensor => scalar(like.graph, 0, like.dtype);

defineGrad('Add', (n, [d]) => [sumToShape(d!, n.inputs[0]!), sumToShape(d!, n.inputs[1]!)]);
defineGrad('Sub', (n, [d]) => [sumToShape(d!, n.inputs[0]!), sumToShape(neg(d!), n.inputs[1]!)]);
defineGrad('Mul', (n, [d], needs) => {
  const [a, b] = n.inputs as Tensor[];
  return [needs[0] ? sumToShape(mul(d!, b), a) : undefined, needs[1] ? sumToShape(mul(d!, a), b) : undefined];
});
defineGrad('Div', (n, [d], needs) => {
  const [a, b] = n.inputs as Tensor[];
  const da = div(d!, b);
  return [needs[0] ? sumToShape(da, a) : undefined, needs[1] ? sumToShape(neg(mul(da, n.outputs[0])), b) : undefined];
});
defineGrad('Pow', (n, [d], needs) => {
  const [a, b] = n.inputs as Tensor[];
  const da = needs[0] ? sumToShape(mul(d!, mul(b, pow(a, sub(b, 1)))), a) : undefined;
  return [da, needs[1] ? sumToShape(mul(d!, mul(n.outputs[0], log(a))), b) : undefined];
});
function minMaxGrad(pickA: (a: Tensor, b: Tensor) => Tensor) {
  return (n: { inputs: (Tensor | undefined)[] }, [d]: (Tensor | undefined)[]) => {
    const [a, b] = n.inputs as Tensor[];
    const m = pickA(a, b);
    return [sumToShape(where(m, d!, zero(d!)), a), sumToShape(where(m, zero(d!), d!), b)];
  };
}
defineGrad(
  'Min',
  minMaxGrad((a, b) => lessOrEqual(a, b)),
);
defineGrad(
  'Max',
  minMaxGrad((a, b) => greaterOrEqual(a, b)),
);
defineGrad('Neg', (_n, [d]) => [neg(d!)]);
defineGrad('Abs', (n, [d]) => [mul(d!, sign(n.inputs[0]!))]);
defineGrad('Sqrt', (n, [d]) => [div(d!, mul(n.outputs[0], 2))]);
defineGrad('Exp', (n, [d]) => [mul(d!, n.outputs[0])]);
defineGrad('Log', (n, [d]) => [div(d!, n.inputs[0]!)]);
defineGrad('Reciprocal', (n, [d]) => [neg(mul(d!, mul(n.outputs[0], n.outputs[0])))]);
defineGrad('Sigmoid', (n, [d]) => {
  const y = n.outputs[0];
  return [mul(d!, mul(y, sub(1, y)))];
});
defineGrad('Tanh', (n, [d]) => {
  const y = n.outputs[0];
  return [mul(d!, sub(1, mul(y, y)))];
});
defineGrad('Sin', (n, [d]) => [mul(d!, cos(n.inputs[0]!))]);
defineGrad('Cos', (n, [d]) => [neg(mul(d!, sin(n.inputs[0]!)))]);
defineGrad('Relu', (n, [d]) => [where(greater(n.inputs[0]!, 0), d!, zero(d!))]);
defineGrad('Identity', (_n, [d]) => [d]);
defineGrad('Clip', (n, [d]) => {
  const [x, lo, hi] = n.inputs;
  let inside: Tensor | undefined;
  if (lo) inside = greater(x!, lo);
  if (hi) inside = inside ? and(inside, less(x!, hi)) : less(x!, hi);
  return [inside ? where(inside, d!, zero(d!)) : d, undefined, undefined];
});
defineGrad('Where', (n, [d]) => {
  const [c, a, b] = n.inputs as Tensor[];
  return [undefined, sumToShape(where(c, d!, zero(d!)), a), sumToShape(where(c, zero(d!), d!), b)];
});
defineGrad('Cast', (n, [d]) => {
  const x = n.inputs[0]!;
  return [isFloat(x.dtype) && isFloat(d!.dtype) ? cast(d!, x.dtype) : undefined];
});
