import type { Tensor } from '../graph';
import * as op from '../ops';

export interface AdamWConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWScalars {
  /** 1-based step number t of this update (float scalar of the parameter dtype). */
  t: Tensor;
  /** Learning rate (float scalar). */
  lr: Tensor;
  /** Factor applied to every gradient first (global-norm clipping), folded into the scalars. */
  gradScale?: Tensor;
}

export interface AdamWState {
  param: Tensor;
  m: Tensor;
  v: Tensor;
}

/**
 * One AdamW update (PyTorch semantics): decoupled weight decay p <- p (1 - lr wd), moments
 * m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, and p <- p - lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps).
 * `decay: false` skips weight decay for this parameter (norm gains, biases).
 */
export function adamwUpdate(
  s: AdamWState,
  g: Tensor,
  k: AdamWScalars,
  cfg: AdamWConfig = {},
  decay = true,
): AdamWState {
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const eps = cfg.eps ?? 1e-8;
  const wd = decay ? (cfg.weightDecay ?? 0.01) : 0;
  // Scalars first, so each parameter costs as few full-size passes as possible:
  // m/(sqrt(v)/sqrt(bc2) + eps) = sqrt(bc2) m/(sqrt(v) + eps sqrt(bc2)).
  const bc1 = op.sub(1, op.pow(op.scalar(k.t.graph, b1, k.t.dtype), k.t));
  const sqrtBc2 = op.sqrt(op.sub(1, op.pow(op.scalar(k.t.graph, b2, k.t.dtype), k.t)));
  const stepSize = op.div(op.mul(k.lr, sqrtBc2), bc1);
  const epsHat = op.mul(sqrtBc2, eps);
  const c1 = k.gradScale ? op.mul(k.gradScale, 1 - b1) : op.scalar(g.graph, 1 - b1, g.dtype);
  const c2 = k.gradScale ? op.mul(op.mul(k.gradScale, k.gradScale), 1 - b2) : op.scalar(g.graph, 1 - b2, g.dtype);
  const m = op.add(op.mul(s.m, b1), op.mul(g, c1));
  const v = op.add(op.mul(s.v, b2), op.mul(op.mul(g, g), c2));
  const decayed = wd ? op.mul(s.param, op.sub(1, op.mul(k.lr, wd))) : s.param;
  const param = op.sub(decayed, op.mul(op.div(m, op.add(op.sqrt(v), epsHat)), stepSize));
  return { param, m, v };
}

/** The same update in plain TypeScript (float64 arithmetic), used as the reference in tests. */
export function adamwReference(
  p: Float64Array | Float32Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  lr: number,
  cfg: AdamWConfig = {},
  decay = true,
  gradScale = 1,
): void {
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const eps = cfg.eps ?? 1e-8;
  const wd = decay ? (cfg.weightDecay ?? 0.01) : 0;
  const bc1 = 1 - b1 ** t;
  const bc2 = Math.sqrt(1 - b2 ** t);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * gradScale;
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] = p[i] * (1 - lr * wd) - (lr / bc1) * (m[i] / (Math.sqrt(v[i]) / bc2 + eps));
  }
}
