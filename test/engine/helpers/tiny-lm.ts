import type { Tensor, TensorData } from '../../../engine/graph';
import { causalSelfAttention, maskedCrossEntropy, rmsNorm, swiglu } from '../../../engine/nn';
import * as op from '../../../engine/ops';
import type { ParamSpec, TrainStepSpec } from '../../../engine/program';
import { xorshift32 } from '../../../engine/rng';

/**
 * A small decoder-only language model for the compiler's tests and benchmarks: token and learned
 * position embeddings, `layers` x (RMSNorm, causal self-attention, RMSNorm, SwiGLU), final RMSNorm,
 * untied LM head. (The Llama/Qwen family with RoPE and GQA is the model layer's job.)
 */
export interface TinyLMConfig {
  vocab: number;
  width: number;
  heads: number;
  layers: number;
  hidden: number;
  maxSeq: number;
}

export function tinyLMParams(c: TinyLMConfig): ParamSpec[] {
  const p: ParamSpec[] = [
    { name: 'embed', shape: [c.vocab, c.width] },
    { name: 'pos', shape: [c.maxSeq, c.width] },
  ];
  for (let l = 0; l < c.layers; l++) {
    p.push({ name: `l${l}.norm1`, shape: [c.width], decay: false });
    for (const w of ['wq', 'wk', 'wv', 'wo']) p.push({ name: `l${l}.${w}`, shape: [c.width, c.width] });
    p.push({ name: `l${l}.norm2`, shape: [c.width], decay: false });
    p.push({ name: `l${l}.gate`, shape: [c.width, c.hidden] });
    p.push({ name: `l${l}.up`, shape: [c.width, c.hidden] });
    p.push({ name: `l${l}.down`, shape: [c.hidden, c.width] });
  }
  p.push({ name: 'norm', shape: [c.width], decay: false });
  p.push({ name: 'head', shape: [c.width, c.vocab] });
  return p;
}

/** Deterministic initialisation: norms at 1, matrices ~ U(-1, 1) * 1/sqrt(fan_in) (embeddings 0.5). */
export function tinyLMInit(
  c: TinyLMConfig,
  seed = 1,
  dtype: 'float32' | 'float64' = 'float32',
): Record<string, TensorData> {
  const rnd = xorshift32(seed);
  const out: Record<string, TensorData> = {};
  for (const p of tinyLMParams(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    const scale = p.shape.length === 1 ? 0 : p.name === 'embed' || p.name === 'pos' ? 0.5 : 1 / Math.sqrt(p.shape[0]);
    for (let i = 0; i < n; i++) data[i] = p.shape.length === 1 ? 1 : (2 * rnd() - 1) * scale;
    out[p.name] = { dtype, shape: p.shape, data };
  }
  return out;
}

/** Logits [B, T, V] for tokens int64 [B, T]. */
export function tinyLMForward(c: TinyLMConfig, p: Record<string, Tensor>, tokens: Tensor): Tensor {
  const t = tokens.shape[1];
  if (typeof t !== 'number' || t > c.maxSeq)
    throw new Error(`tinyLM: sequence length ${t} must be static and <= ${c.maxSeq}`);
  let h = op.add(op.gather(p.embed, tokens, 0), op.slice(p.pos, [0], [t], [0]));
  for (let l = 0; l < c.layers; l++) {
    const w = (k: string) => p[`l${l}.${k}`];
    const a = causalSelfAttention(
      rmsNorm(h, w('norm1')),
      { wq: w('wq'), wk: w('wk'), wv: w('wv'), wo: w('wo') },
      c.heads,
    );
    h = op.add(h, a);
    h = op.add(h, swiglu(rmsNorm(h, w('norm2')), w('gate'), w('up'), w('down')));
  }
  return op.matmul(rmsNorm(h, p.norm), p.head);
}

/** Next-token loss on int64 tokens [B, T] with float mask [B, T] (position t predicts t+1). */
export function tinyLMLoss(c: TinyLMConfig, p: Record<string, Tensor>, tokens: Tensor, mask: Tensor): Tensor {
  const logits = tinyLMForward(c, p, tokens);
  const t = tokens.shape[1] as number;
  const inLogits = op.slice(logits, [0], [t - 1], [1]);
  const targets = op.slice(tokens, [1], [t], [1]);
  return maskedCrossEntropy(inLogits, targets, op.slice(mask, [1], [t], [1]));
}

/** Matmul FLOPs of one forward pass over B x T tokens (2 per multiply-add; attention scores and mix included). */
export function tinyLMForwardFlops(c: TinyLMConfig, b: number, t: number): number {
  const tokens = b * t;
  const perLayer = 2 * tokens * (4 * c.width * c.width + 3 * c.width * c.hidden) + 2 * 2 * b * t * t * c.width;
  return c.layers * perLayer + 2 * tokens * c.width * c.vocab;
}

/** A train step of the tiny model on `tokens` int64 [batch, seq] with a float mask of the same shape. */
export function tinyLMTrainSpec(
  c: TinyLMConfig,
  batch: number,
  seq: number,
  rest: Pick<TrainStepSpec, 'optimizer' | 'clipNorm'>,
): TrainStepSpec {
  return {
    params: tinyLMParams(c),
    batch: [
      { name: 'tokens', dtype: 'int64', shape: [batch, seq] },
      { name: 'mask', dtype: 'float32', shape: [batch, seq] },
    ],
    loss: ({ params, batch: b }) => tinyLMLoss(c, params, b.tokens, b.mask),
    ...rest,
  };
}
