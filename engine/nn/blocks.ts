import type { Tensor } from '../graph';
import * as op from '../ops';

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const ms = op.reduceMean(op.mul(x, x), [-1], true);
  return op.mul(op.div(x, op.sqrt(op.add(ms, eps))), weight);
}

/** SiLU(x) = x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return op.mul(x, op.sigmoid(x));
}

/** SwiGLU feed-forward: (silu(x Wg) * (x Wu)) Wd. */
export function swiglu(x: Tensor, wGate: Tensor, wUp: Tensor, wDown: Tensor): Tensor {
  return op.matmul(op.mul(silu(op.matmul(x, wGate)), op.matmul(x, wUp)), wDown);
}

/** Bool [T, T] mask, true where key position <= query position. */
export function causalMask(x: Tensor, seqAxis = 1): Tensor {
  const g = x.graph;
  const t = op.dimOf(x, seqAxis);
  const pos = op.range(op.scalar(g, 0, 'int64'), t, op.scalar(g, 1, 'int64'));
  return op.greaterOrEqual(op.unsqueeze(pos, [1]), op.unsqueeze(pos, [0]));
}

export interface AttentionWeights {
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
}

/** [B, T, H*Dh] -> [B, H, T, Dh] */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const d = x.shape[2];
  if (typeof d !== 'number' || d % heads) throw new Error(`splitHeads: width of ${x} not divisible by ${heads}`);
  return op.transpose(op.reshape(x, [0, 0, heads, d / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, Dh] -> [B, T, H*Dh] */
export function mergeHeads(x: Tensor): Tensor {
  const [, h, , dh] = x.shape;
  return op.reshape(op.transpose(x, [0, 2, 1, 3]), [0, 0, (h as number) * (dh as number)]);
}

/** Additive attention bias from a bool mask: 0 where attending is allowed, -1e9 elsewhere. */
export function maskBias(mask: Tensor, dtype: Tensor['dtype']): Tensor {
  return op.where(mask, op.scalar(mask.graph, 0, dtype), op.scalar(mask.graph, -1e9, dtype));
}

/**
 * Scaled dot-product attention with a causal mask; q: [B, H, T, Dh], k/v: [B, H, S, Dh].
 * `mask` (bool, broadcastable to [B, H, T, S]) overrides the causal mask when given. The mask is
 * applied as an additive bias (built once, broadcast by Add) and the scale is folded into q, the
 * smaller operand: both cheaper than Where / Mul over the [B, H, T, S] scores.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor): Tensor {
  const dh = q.shape[3] as number;
  const scores = op.matmul(op.mul(q, 1 / Math.sqrt(dh)), op.transposeLast2(k));
  const masked = op.add(scores, maskBias(mask ?? causalMask(q, 2), q.dtype));
  return op.matmul(op.softmax(masked, -1), v);
}

/** Multi-head causal self-attention on x: [B, T, D] (no positional encoding; RoPE comes with the model family). */
export function causalSelfAttention(x: Tensor, w: AttentionWeights, heads: number): Tensor {
  const q = splitHeads(op.matmul(x, w.wq), heads);
  const k = splitHeads(op.matmul(x, w.wk), heads);
  const v = splitHeads(op.matmul(x, w.wv), heads);
  return op.matmul(mergeHeads(attention(q, k, v)), w.wo);
}

/** log p(target) per position: logits [..., V], targets int64 [...] -> [...]. */
export function tokenLogProbs(logits: Tensor, targets: Tensor): Tensor {
  const lp = op.logSoftmax(logits, -1);
  return op.squeeze(op.gatherElements(lp, op.unsqueeze(targets, [-1]), -1), [-1]);
}

/** Masked mean of x (mask is float, same shape); the denominator is at least 1. */
export function maskedMean(x: Tensor, mask: Tensor): Tensor {
  return op.div(op.reduceSum(op.mul(x, mask)), op.max(op.reduceSum(mask), 1));
}

/** Token cross-entropy averaged over positions where mask = 1. */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, mask: Tensor): Tensor {
  return op.neg(maskedMean(tokenLogProbs(logits, targets), mask));
}
