import type { Tensor } from '../graph';
import * as op from '../ops';

/** Global L2 norm of a list of gradients. */
export function globalNorm(grads: Tensor[]): Tensor {
  if (!grads.length) throw new Error('globalNorm: no gradients');
  let sq: Tensor | undefined;
  for (const g of grads) {
    const s = op.reduceSumSquare(g);
    sq = sq ? op.add(sq, s) : s;
  }
  return op.sqrt(sq!);
}

/**
 * Global-norm gradient clipping (PyTorch clip_grad_norm_): the factor min(1, maxNorm / (norm + 1e-6))
 * all gradients are to be scaled by. Optimizers take it as a scalar (`gradScale`) and fold it into
 * their own arithmetic, which saves a full pass over every gradient.
 */
export function clipScale(grads: Tensor[], maxNorm: number): { scale: Tensor; norm: Tensor } {
  const norm = globalNorm(grads);
  const scale = op.min(op.div(op.scalar(norm.graph, maxNorm, norm.dtype), op.add(norm, 1e-6)), 1);
  return { scale, norm };
}

/** Clipped gradients as tensors (for optimizers that do not take a scale). */
export function clipGlobalNorm(grads: Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  const { scale, norm } = clipScale(grads, maxNorm);
  return { grads: grads.map((g) => op.mul(g, scale)), norm };
}
