import type { Tensor } from '../graph';
import * as op from '../ops';

/** Plain SGD: p <- p - lr g. */
export function sgdUpdate(param: Tensor, g: Tensor, lr: Tensor): Tensor {
  return op.sub(param, op.mul(lr, g));
}
