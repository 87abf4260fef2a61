import { type Tensor, attr } from '../graph';
import { normAxis } from '../graph/shape';
import { defineGrad } from './grad-rules';
import { emit1, requireFloat } from './core';
import { exp, mul, sub } from './elementwise';
import { reduceSum } from './reduce';

export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('Softmax', x);
  return emit1('Softmax', [x], x.dtype, x.shape, { axis: attr.int(normAxis('Softmax', axis, x.rank)) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('LogSoftmax', x);
  return emit1('LogSoftmax', [x], x.dtype, x.shape, { axis: attr.int(normAxis('LogSoftmax', axis, x.rank)) });
}

defineGrad('Softmax', (n, [d]) => {
  const y = n.outputs[0];
  const a = (n.attrs.axis as { value: number }).value;
  return [mul(y, sub(d!, reduceSum(mul(d!, y), [a], true)))];
});
defineGrad('LogSoftmax', (n, [d]) => {
  const y = n.outputs[0];
  const a = (n.attrs.axis as { value: number }).value;
  return [sub(d!, mul(exp(y), reduceSum(d!, [a], true)))];
});
