import type { Tensor } from '../graph';
import * as op from '../ops';
import {
  type Attention,
  type DecoderParams,
  type LayerKV,
  NEG_INF,
  causalAttention,
  causalPaddingBias,
  decoderLayers,
  positionsFromMask,
} from './decoder';

/**
 * Completions that share prompts, as GRPO's K samples of one prompt do: `prompts` [Bp, P] LEFT-padded
 * under `promptMask`, `tokens` [B, T] RIGHT-padded under `mask`, with B = Bp * K and rows k*K .. k*K+K-1
 * continuing prompt k. The prompts run through the decoder once, not K times; each completion attends
 * to its prompt's keys and values and causally to itself, at the positions after its prompt, which is
 * the same attention as over the concatenated row. Gradients of the K rows meet in the shared prompt
 * (Expand's gradient sums them). With `group` [B] int64 (the prompt row of each completion) the rows
 * may come in any order and any number per prompt; without it, the layout above (what training uses:
 * a sum over an Expand is cheaper than a scatter).
 */
export interface SharedPrefixHidden {
  /** Final-norm hidden states that predict each completion token, [B, T, H]: column 0 is the prompt's
   * last position, column t the completion's position t - 1. */
  predicting: Tensor;
  /** Final-norm hidden states of the completion tokens themselves, [B, T, H]. */
  completion: Tensor;
}

export function sharedPrefixForward(
  m: DecoderParams,
  prompts: Tensor,
  promptMask: Tensor,
  tokens: Tensor,
  mask: Tensor,
  group?: Tensor,
): SharedPrefixHidden {
  const c = m.config;
  const g = tokens.graph;
  const groups = op.reshape(op.dimOf(prompts, 0), [1]);
  const k = op.div(op.reshape(op.dimOf(tokens, 0), [1]), groups);
  // [Bp, ...] -> [B, ...]: each prompt's tensor for each of its completions
  const perRow = (x: Tensor) => {
    if (group) return op.gather(x, group, 0);
    const rest = op.slice(op.shapeOf(x), [1], [x.rank], [0]);
    const expanded = op.expand(op.unsqueeze(x, [1]), op.concat([groups, k, rest], 0));
    return op.reshape(expanded, op.concat([op.ints(g, [-1]), rest], 0));
  };

  const promptKV: LayerKV[] = [];
  const promptHidden = decoderLayers(
    m,
    prompts,
    positionsFromMask(promptMask),
    causalAttention(c, causalPaddingBias(promptMask), promptKV),
  );

  const promptLen = op.reduceSum(op.cast(promptMask, 'int64'), [1]); // [Bp]
  const t = op.dimOf(tokens, 1);
  const steps = op.range(op.scalar(g, 0, 'int64'), t, op.scalar(g, 1, 'int64'));
  const positions = op.add(op.unsqueeze(perRow(promptLen), [1]), op.unsqueeze(steps, [0])); // [B, T]
  const keyOk = op.cast(promptMask, 'bool');
  const promptBias = perRow(
    op.unsqueeze(op.where(keyOk, op.scalar(g, 0, 'float32'), op.scalar(g, NEG_INF, 'float32')), [1, 2, 3]),
  ); // [B, 1, 1, 1, P]
  const selfBias = causalPaddingBias(mask); // [B, 1, 1, T, T]
  const attention: Attention = (l, q, kNew, vNew) => {
    const qr = op.transpose(q, [0, 2, 3, 1, 4]); // [B, Hkv, G, T, D]
    const kp = perRow(promptKV[l].k); // [B, Hkv, P, D]
    const vp = perRow(promptKV[l].v);
    const ks = op.transpose(kNew, [0, 2, 1, 3]); // [B, Hkv, T, D]
    const vs = op.transpose(vNew, [0, 2, 1, 3]);
    const toPrompt = op.add(op.matmul(qr, op.unsqueeze(op.transposeLast2(kp), [2])), promptBias);
    const toSelf = op.add(op.matmul(qr, op.unsqueeze(op.transposeLast2(ks), [2])), selfBias);
    // one softmax over the prompt's keys and the completion's own; the values side by side likewise
    const w = op.softmax(op.concat([toPrompt, toSelf], -1), -1); // [B, Hkv, G, T, P + T]
    const ctx = op.matmul(w, op.unsqueeze(op.concat([vp, vs], 2), [2])); // [B, Hkv, G, T, D]
    return op.reshape(op.transpose(ctx, [0, 3, 1, 2, 4]), [0, 0, c.numHeads * c.headDim]);
  };
  const completion = decoderLayers(m, tokens, positions, attention);

  // Gather, not Slice, picks the columns: the sizes are known only at run time
  const last = op.sub(op.reshape(op.dimOf(prompts, 1), [1]), op.ints(g, [1]));
  const lastPrompt = perRow(op.gather(promptHidden, last, 1)); // [B, 1, H]
  const predicting = op.gather(op.concat([lastPrompt, completion], 1), steps, 1);
  return { predicting, completion };
}
