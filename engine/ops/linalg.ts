import type { Dim, Tensor } from '../graph';
import { broadcast, fmt } from '../graph/shape';
import { defineGrad } from './grad-rules';
import { emit1, requireFloat, sameDType } from './core';
import { sumToShape } from './broadcast';
import { reshape, transpose } from './shape';

/** Numpy matmul over the last two axes, batch axes broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = 'MatMul';
  const dtype = sameDType(op, a, b);
  requireFloat(op, a);
  if (a.rank < 1 || b.rank < 1) throw new Error(`${op}: scalars not allowed (${a}, ${b})`);
  const k1 = a.shape[a.rank - 1];
  const k2 = b.rank === 1 ? b.shape[0] : b.shape[b.rank - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2)
    throw new Error(`${op}: inner dims differ: ${a.name}${fmt(a.shape)} @ ${b.name}${fmt(b.shape)}`);
  let out: Dim[];
  if (a.rank === 1 && b.rank === 1) out = [];
  else if (a.rank === 1) out = [...b.shape.slice(0, -2), b.shape[b.rank - 1]];
  else if (b.rank === 1) out = a.shape.slice(0, -1);
  else out = [...broadcast(op, a.shape.slice(0, -2), b.shape.slice(0, -2)), a.shape[a.rank - 2], b.shape[b.rank - 1]];
  return emit1(op, [a, b], dtype, out);
}

/** Swaps the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const p = [...Array(x.rank).keys()];
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return transpose(x, p);
}

defineGrad('MatMul', (n, [d], needs) => {
  const [a, b] = n.inputs as Tensor[];
  if (a.rank < 2 || b.rank < 2) throw new Error('MatMul gradient: operands must have rank >= 2');
  let da: Tensor | undefined;
  let db: Tensor | undefined;
  if (needs[0]) da = sumToShape(matmul(d!, transposeLast2(b)), a);
  if (needs[1]) {
    if (b.rank === 2 && a.rank > 2) {
      // Fold the batch axes into rows: one large matmul instead of a batch of small ones and a sum.
      const k = a.shape[a.rank - 1] as number;
      const m = d!.shape[d!.rank - 1] as number;
      db = matmul(transpose(reshape(a, [-1, k])), reshape(d!, [-1, m]));
    } else db = sumToShape(matmul(transposeLast2(a), d!), b);
  }
  return [da, db];
});
