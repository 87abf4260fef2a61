import type { Tensor } from '../graph';
import * as op from '../ops';

/**
 * Global-norm gradient clipping (PyTorch clip_grad_norm_): scales all gradients by
 * min(1, maxNorm / (norm + 1e-6)). Returns the scaled gradients and the norm before clipping.
 */
export function clipGlobalNorm(grads: Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  if (!grads.length) throw new Error('clipGlobalNorm: no gradients');
  let sq: Tensor | undefined;
  for (const g of grads) {
    const s = op.reduceSum(op.mul(g, g));
    sq = sq ? op.add(sq, s) : s;
  }
  const norm = op.sqrt(sq!);
  const scale = op.min(op.div(op.scalar(norm.graph, maxNorm, norm.dtype), op.add(norm, 1e-6)), 1);
  return { grads: grads.map((g) => op.mul(g, scale)), norm };
}
