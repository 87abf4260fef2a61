import type { Tensor } from '../graph';
import { shapeEq } from '../graph/shape';
import { reduceSum } from './reduce';

/**
 * Reduces a gradient `d` (shaped like a broadcast result) back to the shape of the operand `x`:
 * sums the leading axes `x` lacks, then the axes where `x` has size 1.
 */
export function sumToShape(d: Tensor, x: Tensor): Tensor {
  if (shapeEq(d.shape, x.shape)) return d;
  const lead = d.rank - x.rank;
  if (lead < 0) throw new Error(`sumToShape: gradient ${d} has lower rank than ${x}`);
  let r = lead > 0 ? reduceSum(d, [...Array(lead).keys()], false) : d;
  const axes: number[] = [];
  x.shape.forEach((xd, j) => {
    if (xd === 1 && r.shape[j] !== 1) axes.push(j);
  });
  if (axes.length) r = reduceSum(r, axes, true);
  return r;
}
