import { type Tensor, attr } from '../graph';
import { normAxis } from '../graph/shape';
import { emit1 } from './core';

/** Gather(x, indices, axis): output shape x[:axis] + indices.shape + x[axis+1:]. */
export function gather(x: Tensor, idx: Tensor, axis = 0): Tensor {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32')
    throw new Error(`Gather: indices must be int32/int64, got ${idx}`);
  const a = normAxis('Gather', axis, x.rank);
  return emit1('Gather', [x, idx], x.dtype, [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)], {
    axis: attr.int(a),
  });
}
