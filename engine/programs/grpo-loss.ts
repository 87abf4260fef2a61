import type { Tensor } from '../graph';
import * as op from '../ops';

export interface GrpoLossInputs {
  /** log pi(token) under the policy being trained, [B, T]. */
  logp: Tensor;
  /** log pi_old(token) of the policy that sampled, [B, T]. */
  oldLogp: Tensor;
  /** log pi_ref(token) of the reference policy, [B, T]; omitted (or klCoef 0) = no KL term. */
  refLogp?: Tensor;
  /** Per-sequence advantages [B], or per-token [B, T]. */
  advantages: Tensor;
  /** 1 for trained (completion) tokens, [B, T]. */
  mask: Tensor;
  /** PPO clip range (default 0.2). */
  clip?: number;
  /** Coefficient of the k3 KL to the reference (default 0.001). */
  klCoef?: number;
}

export interface GrpoLoss {
  /** The loss to minimise (scalar). */
  loss: Tensor;
  /** `clip_frac`: share of trained tokens with |r - 1| > clip; `kl`: token-mean k3 (with a reference). */
  metrics: Record<string, Tensor>;
}

/**
 * The GRPO loss of the train program (and the only one): per trained token the PPO clipped surrogate
 * -min(r A, clip(r, 1 - c, 1 + c) A), r = exp(logp - oldLogp), plus klCoef * k3 with the low-variance
 * estimator k3 = exp(ref - logp) - (ref - logp) - 1, averaged over every trained token of the batch
 * (token-mean: each token weighs the same, whatever its sequence's length; the denominator is at
 * least 1). Checked against finite differences (test/engine/blocks-gradients.test.ts) and against
 * PyTorch autograd through a PEFT LoRA (test/engine/model/gradients-vs-torch.test.ts).
 */
export function grpoLoss(i: GrpoLossInputs): GrpoLoss {
  const eps = i.clip ?? 0.2;
  const klCoef = i.klCoef ?? 0.001;
  const denom = op.max(op.reduceSum(i.mask), 1);
  const tokenMean = (x: Tensor) => op.div(op.reduceSum(op.mul(x, i.mask)), denom);
  const adv = i.advantages.rank === 1 ? op.unsqueeze(i.advantages, [1]) : i.advantages;
  const ratio = op.exp(op.sub(i.logp, i.oldLogp));
  const s1 = op.mul(ratio, adv);
  const s2 = op.mul(op.clip(ratio, 1 - eps, 1 + eps), adv);
  let perTok = op.neg(op.min(s1, s2));
  const metrics: Record<string, Tensor> = {
    clip_frac: tokenMean(op.cast(op.greater(op.abs(op.sub(ratio, 1)), eps), i.mask.dtype)),
  };
  if (i.refLogp && klCoef !== 0) {
    const d = op.sub(i.refLogp, i.logp);
    const k3 = op.sub(op.sub(op.exp(d), d), 1);
    perTok = op.add(perTok, op.mul(k3, klCoef));
    metrics.kl = tokenMean(k3);
  }
  return { loss: tokenMean(perTok), metrics };
}
