import { type Tensor, tensorData } from '../graph';
import * as op from '../ops';
import type { DecoderConfig } from './config';

/**
 * The Llama / Qwen2 / Mistral decoder as graph pieces, shared by every program (score, generate,
 * train steps): RMSNorm, RoPE (rope_theta, rotate-half), grouped-query attention, SwiGLU, optional
 * biases, tied or untied head, optional LoRA on any linear layer. Linear weights are [in, out].
 */
export interface LoraTensors {
  /** A [in, r] and B [r, out] of a module (`model.layers.0.self_attn.q_proj`), when adapted. */
  get(module: string): { a: Tensor; b: Tensor } | undefined;
  /** alpha / r (a number, or a runtime scalar so the adapter can be switched off with 0). */
  scale: Tensor | number;
}

export interface DecoderParams {
  config: DecoderConfig;
  /** A base weight by its Hugging Face name (an initializer, a parameter input, ...). */
  weight: (name: string) => Tensor;
  lora?: LoraTensors;
}

function linear(m: DecoderParams, x: Tensor, module: string, bias: boolean): Tensor {
  let y = op.matmul(x, m.weight(`${module}.weight`));
  if (bias) y = op.add(y, m.weight(`${module}.bias`));
  const l = m.lora?.get(module);
  if (l) {
    const s = m.lora!.scale;
    // Scale the small [.., r] intermediate, not the wide output.
    y = op.add(y, op.matmul(op.mul(op.matmul(x, l.a), s), l.b));
  }
  return y;
}

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const ms = op.reduceMean(op.mul(x, x), [-1], true);
  return op.mul(op.mul(x, op.reciprocal(op.sqrt(op.add(ms, eps)))), weight);
}

/** HF positions for a (left- or right-) padded batch: cumsum(mask) - 1, and 1 at padding. */
export function positionsFromMask(mask: Tensor): Tensor {
  const m = op.cast(mask, 'int64');
  const pos = op.sub(op.cumSum(m, 1), op.scalar(mask.graph, 1, 'int64'));
  return op.where(op.equal(m, op.scalar(mask.graph, 0, 'int64')), op.scalar(mask.graph, 1, 'int64'), pos);
}

/**
 * RoPE inverse frequencies as transformers computes them in float32: 1 / theta^(2i / d), then the
 * 'linear' (divided by factor) or 'llama3' (long wavelengths divided by factor, a smooth ramp between)
 * scaling.
 */
export function ropeInverseFrequencies(c: DecoderConfig): Float32Array {
  const half = c.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return inv;
  if (s.kind === 'linear') return inv.map((f) => f / s.factor);
  const lowWave = s.originalMaxPositions / s.lowFreqFactor;
  const highWave = s.originalMaxPositions / s.highFreqFactor;
  return inv.map((f) => {
    const wave = (2 * Math.PI) / f;
    if (wave < highWave) return f;
    if (wave > lowWave) return f / s.factor;
    const smooth = (s.originalMaxPositions / wave - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** cos and sin of RoPE angles for int64 positions [...]: each [..., headDim / 2]. */
export function ropeAngles(c: DecoderConfig, positions: Tensor): { cos: Tensor; sin: Tensor } {
  const inv = ropeInverseFrequencies(c);
  const half = inv.length;
  const invT = op.constant(positions.graph, tensorData('float32', [half], inv));
  const ang = op.mul(op.unsqueeze(op.cast(positions, 'float32'), [-1]), invT);
  const cos = op.emit1('Cos', [ang], 'float32', ang.shape);
  const sin = op.emit1('Sin', [ang], 'float32', ang.shape);
  return { cos, sin };
}

/** Rotate-half RoPE on x [..., headDim] with cos/sin broadcastable to [..., headDim / 2]. */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [x1, x2] = op.split(x, 2, -1);
  return op.concat([op.sub(op.mul(x1, cos), op.mul(x2, sin)), op.add(op.mul(x2, cos), op.mul(x1, sin))], -1);
}

export const NEG_INF = -1e9;

/** Additive attention bias [B, 1, 1, T, T]: 0 where key s <= query t and key s is not padding. */
export function causalPaddingBias(mask: Tensor): Tensor {
  const g = mask.graph;
  const t = op.dimOf(mask, 1);
  const pos = op.range(op.scalar(g, 0, 'int64'), t, op.scalar(g, 1, 'int64'));
  const causal = op.greaterOrEqual(op.unsqueeze(pos, [1]), op.unsqueeze(pos, [0])); // [T, T]
  const keyOk = op.unsqueeze(op.cast(mask, 'bool'), [1, 2, 3]); // [B, 1, 1, 1, T]
  const ok = op.and(causal, keyOk);
  return op.where(ok, op.scalar(g, 0, 'float32'), op.scalar(g, NEG_INF, 'float32'));
}

export interface LayerKV {
  /** Keys after RoPE and values, [B, kvHeads, T, headDim]. */
  k: Tensor;
  v: Tensor;
}

export interface ForwardResult {
  /** Last hidden states after the final norm, [B, T, hidden]. */
  hidden: Tensor;
  kv: LayerKV[];
}

/** Embedding lookup for int64 tokens [B, T]. */
export function embed(m: DecoderParams, tokens: Tensor): Tensor {
  return op.gather(m.weight('model.embed_tokens.weight'), tokens, 0);
}

function mlp(m: DecoderParams, x: Tensor, p: string): Tensor {
  const b = m.config.mlpBias;
  const gate = linear(m, x, `${p}mlp.gate_proj`, b);
  const up = linear(m, x, `${p}mlp.up_proj`, b);
  return linear(m, op.mul(op.mul(gate, op.sigmoid(gate)), up), `${p}mlp.down_proj`, b);
}

/**
 * The attention of one layer: given its queries [B, T, kvHeads, G, headDim] (RoPE applied, scaled
 * by 1 / sqrt(headDim)), keys [B, T, kvHeads, headDim] (RoPE applied) and values [B, T, kvHeads,
 * headDim] of the T new tokens, returns the context [B, T, numHeads * headDim]. What the keys are
 * attended with (the sequence itself, a KV cache) and what is kept of them is the attention's.
 */
export type Attention = (layer: number, q: Tensor, k: Tensor, v: Tensor) => Tensor;

/**
 * The decoder: embedding, the layers (each: RMSNorm, q/k/v projections, RoPE, `attention`, output
 * projection, residual, RMSNorm, SwiGLU MLP, residual) and the final norm, over tokens [B, T] int64
 * at int64 positions [B, T]. Returns the final-norm hidden states [B, T, hidden].
 */
export function decoderLayers(m: DecoderParams, tokens: Tensor, positions: Tensor, attention: Attention): Tensor {
  const c = m.config;
  const G = c.numHeads / c.numKvHeads;
  const D = c.headDim;
  const { cos, sin } = ropeAngles(c, positions); // [B, T, D/2]
  const cosQ = op.unsqueeze(cos, [2, 3]); // [B, T, 1, 1, D/2]
  const sinQ = op.unsqueeze(sin, [2, 3]);
  const cosK = op.unsqueeze(cos, [2]); // [B, T, 1, D/2]
  const sinK = op.unsqueeze(sin, [2]);
  const scale = 1 / Math.sqrt(D);
  let h = embed(m, tokens);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const x = rmsNorm(h, m.weight(`${p}input_layernorm.weight`), c.rmsNormEps);
    const q = op.reshape(linear(m, x, `${p}self_attn.q_proj`, c.qkvBias), [0, 0, c.numKvHeads, G, D]);
    const k = op.reshape(linear(m, x, `${p}self_attn.k_proj`, c.qkvBias), [0, 0, c.numKvHeads, D]);
    const v = op.reshape(linear(m, x, `${p}self_attn.v_proj`, c.qkvBias), [0, 0, c.numKvHeads, D]);
    const ctx = attention(l, op.mul(applyRope(q, cosQ, sinQ), scale), applyRope(k, cosK, sinK), v);
    h = op.add(h, linear(m, ctx, `${p}self_attn.o_proj`, c.oBias));
    h = op.add(h, mlp(m, rmsNorm(h, m.weight(`${p}post_attention_layernorm.weight`), c.rmsNormEps), p));
  }
  return rmsNorm(h, m.weight('model.norm.weight'), c.rmsNormEps);
}

/**
 * Causal attention of a sequence over itself under an additive bias [B, 1, 1, T, T]
 * (causalPaddingBias); each layer's keys and values, [B, kvHeads, T, headDim], go to `kv`.
 */
export function causalAttention(c: DecoderConfig, bias: Tensor, kv: LayerKV[]): Attention {
  return (_l, q, k, v) => {
    const qr = op.transpose(q, [0, 2, 3, 1, 4]); // [B, Hkv, G, T, D]
    const kr = op.transpose(k, [0, 2, 1, 3]); // [B, Hkv, T, D]
    const vt = op.transpose(v, [0, 2, 1, 3]);
    kv.push({ k: kr, v: vt });
    const scores = op.add(op.matmul(qr, op.unsqueeze(op.transposeLast2(kr), [2])), bias); // [B, Hkv, G, T, T]
    const ctx = op.matmul(op.softmax(scores, -1), op.unsqueeze(vt, [2])); // [B, Hkv, G, T, D]
    return op.reshape(op.transpose(ctx, [0, 3, 1, 2, 4]), [0, 0, c.numHeads * c.headDim]);
  };
}

/**
 * The decoder over full sequences: tokens [B, T] int64, mask [B, T] (1 = token, 0 = padding, left
 * or right), positions [B, T] int64 (default from the mask). Returns the final-norm hidden states
 * and each layer's keys/values (for a KV cache).
 */
export function decoderForward(
  m: DecoderParams,
  tokens: Tensor,
  mask: Tensor,
  positions: Tensor = positionsFromMask(mask),
): ForwardResult {
  const kv: LayerKV[] = [];
  const hidden = decoderLayers(m, tokens, positions, causalAttention(m.config, causalPaddingBias(mask), kv));
  return { hidden, kv };
}

/** Logits from final hidden states [..., hidden] -> [..., vocab] (tied head reads the embedding). */
export function lmHead(m: DecoderParams, hidden: Tensor): Tensor {
  if (m.config.tieWordEmbeddings) return op.matmul(hidden, op.transpose(m.weight('model.embed_tokens.weight')));
  return linear(m, hidden, 'lm_head', false);
}

/** Keys and values [B, kvHeads, S, headDim] with an additive bias over their S slots (0 = attend). */
export interface KVSegment extends LayerKV {
  /** Broadcastable to [B, kvHeads, G, S]. */
  bias: Tensor;
}

/**
 * Attention of ONE new token per row over KV segments, attended jointly (one softmax over their
 * concatenation): `segments(layer, k, v)` gets this token's key and value, [B, kvHeads, headDim]
 * each, and returns the segments (a read-only prompt cache, a cache this step writes, ...).
 */
export function cachedAttention(
  c: DecoderConfig,
  segments: (layer: number, k: Tensor, v: Tensor) => KVSegment[],
): Attention {
  const G = c.numHeads / c.numKvHeads;
  return (l, q, k, v) => {
    const qr = op.reshape(q, [0, c.numKvHeads, G, c.headDim]); // T = 1
    const segs = segments(l, op.reshape(k, [0, c.numKvHeads, c.headDim]), op.reshape(v, [0, c.numKvHeads, c.headDim]));
    const scores = segs.map((s) => op.add(op.matmul(qr, op.transposeLast2(s.k)), s.bias)); // [B, Hkv, G, S_i]
    let ctx: Tensor;
    if (segs.length === 1) ctx = op.matmul(op.softmax(scores[0], -1), segs[0].v);
    else {
      const w = op.softmax(op.concat(scores, -1), -1);
      const g = q.graph;
      let start: Tensor = op.ints(g, [0]);
      const parts = segs.map((s, i) => {
        const end = op.add(start, op.reshape(op.dimOf(scores[i], 3), [1]));
        const part = op.matmul(op.slice(w, start, end, [3]), s.v);
        start = end;
        return part;
      });
      ctx = parts.reduce((a, b) => op.add(a, b)); // [B, Hkv, G, D]
    }
    return op.reshape(ctx, [0, 1, c.numHeads * c.headDim]);
  };
}

/** Matmul FLOPs of a forward pass over B x T tokens (2 per multiply-add; attention included). */
export function decoderForwardFlops(c: DecoderConfig, b: number, t: number): number {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const tokens = b * t;
  const perLayer = 2 * tokens * (H * q * 2 + H * kv * 2 + 3 * H * c.intermediateSize) + 2 * 2 * b * t * t * q;
  return c.numLayers * perLayer + 2 * tokens * H * c.vocabSize;
}
