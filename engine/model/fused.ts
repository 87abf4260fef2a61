import type { Tensor } from '../graph';
import * as op from '../ops';
import type { DecoderConfig } from './config';
import { type DecoderParams, embed, rmsNorm, ropeAngles } from './decoder';

/**
 * The decoder's layers for small-width training (the packed train step): the same function as
 * decoderLayers with causalAttention, written with fewer and larger ops, because at width 128 the
 * per-op cost of many small elementwise ops, not the matmul FLOPs, dominates a train step
 * (onnxruntime's per-op profile of the world's backbone: RoPE's split, broadcast multiplies and
 * concat alone took 15% of the step, its AdamW 3%):
 * - q, k and v come out of one matmul, whose weight also holds the rotate-half images of the q and
 *   k columns (a signed permutation of columns, exact), so RoPE is two same-shape multiplies and an
 *   add with cos/sin tiled once per step, and 1 / sqrt(headDim) rides on the q angles;
 * - gate and up come out of one matmul;
 * - LoRA adapters are merged into the weights in the graph (W + s A B, weight-sized), so the fused
 *   matmuls serve LoRA too;
 * - attention scores are one matmul per key/value head with the G query heads of the group stacked
 *   (no broadcast over G).
 * The sums run in other orders, so results agree with decoderLayers up to float rounding.
 * tokens and positions [R, T] int64, bias [R, 1, 1, T, T]; returns the final-norm hidden states.
 */
export function fusedDecoderLayers(m: DecoderParams, tokens: Tensor, positions: Tensor, bias: Tensor): Tensor {
  const c = m.config;
  const { cos, sin } = ropeAngles(c, positions); // [R, T, D/2]
  const tile = (x: Tensor, heads: number, scale = 1) => {
    const full = op.unsqueeze(op.concat([x, x], -1), [2]); // [R, T, 1, D]
    const t = op.reshape(op.expand(full, [1, 1, heads, 1]), [0, 0, heads * c.headDim]);
    return scale === 1 ? t : op.mul(t, scale);
  };
  const scale = 1 / Math.sqrt(c.headDim);
  const rope = {
    cosQ: tile(cos, c.numHeads, scale),
    sinQ: tile(sin, c.numHeads, scale),
    cosK: tile(cos, c.numKvHeads),
    sinK: tile(sin, c.numKvHeads),
  };
  const stacked = stackedBias(c, bias);
  const [q, kv] = [c.numHeads * c.headDim, c.numKvHeads * c.headDim];
  let h = embed(m, tokens);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const qkv = fusedProjection(m, rmsNorm(h, m.weight(`${p}input_layernorm.weight`), c.rmsNormEps), p, c);
    const [qa, qb, ka, kb, v] = op.split(qkv, [q, q, kv, kv, kv], -1);
    const qr = op.add(op.mul(qa, rope.cosQ), op.mul(qb, rope.sinQ));
    const kr = op.add(op.mul(ka, rope.cosK), op.mul(kb, rope.sinK));
    const ctx = groupedAttention(c, qr, kr, v, stacked);
    h = op.add(h, op.matmul(ctx, effectiveWeight(m, `${p}self_attn.o_proj`)));
    if (c.oBias) h = op.add(h, m.weight(`${p}self_attn.o_proj.bias`));
    const y = rmsNorm(h, m.weight(`${p}post_attention_layernorm.weight`), c.rmsNormEps);
    const gu = op.matmul(
      y,
      op.concat([effectiveWeight(m, `${p}mlp.gate_proj`), effectiveWeight(m, `${p}mlp.up_proj`)], 1),
    );
    const gub = c.mlpBias
      ? op.add(gu, op.concat([m.weight(`${p}mlp.gate_proj.bias`), m.weight(`${p}mlp.up_proj.bias`)], 0))
      : gu;
    const [gate, up] = op.split(gub, 2, -1);
    let down = op.matmul(op.mul(op.mul(gate, op.sigmoid(gate)), up), effectiveWeight(m, `${p}mlp.down_proj`));
    if (c.mlpBias) down = op.add(down, m.weight(`${p}mlp.down_proj.bias`));
    h = op.add(h, down);
  }
  return rmsNorm(h, m.weight('model.norm.weight'), c.rmsNormEps);
}

/** A linear weight [in, out] with its LoRA adapter merged (W + scale * A B), when adapted. */
function effectiveWeight(m: DecoderParams, module: string): Tensor {
  const w = m.weight(`${module}.weight`);
  const l = m.lora?.get(module);
  return l ? op.add(w, op.mul(op.matmul(l.a, l.b), m.lora!.scale)) : w;
}

/** Columns [.., heads * D] with each head's halves swapped and the second negated: rotate-half of the output. */
function rotateHalfColumns(w: Tensor, heads: number, d: number): Tensor {
  const r = op.reshape(w, [...w.shape.slice(0, -1).map(() => 0), heads, 2, d / 2]);
  const [a, b] = op.split(r, 2, -2);
  return op.reshape(op.concat([op.neg(b), a], -2), [...w.shape.slice(0, -1).map(() => 0), heads * d]);
}

/** x [.., hidden] -> [q | rot(q) | k | rot(k) | v] in one matmul (biases likewise). */
function fusedProjection(m: DecoderParams, x: Tensor, p: string, c: DecoderConfig): Tensor {
  const wq = effectiveWeight(m, `${p}self_attn.q_proj`);
  const wk = effectiveWeight(m, `${p}self_attn.k_proj`);
  const wv = effectiveWeight(m, `${p}self_attn.v_proj`);
  const w = op.concat(
    [wq, rotateHalfColumns(wq, c.numHeads, c.headDim), wk, rotateHalfColumns(wk, c.numKvHeads, c.headDim), wv],
    1,
  );
  let y = op.matmul(x, w);
  if (c.qkvBias) {
    const b = (n: string) => m.weight(`${p}self_attn.${n}.bias`);
    y = op.add(
      y,
      op.concat(
        [
          b('q_proj'),
          rotateHalfColumns(b('q_proj'), c.numHeads, c.headDim),
          b('k_proj'),
          rotateHalfColumns(b('k_proj'), c.numKvHeads, c.headDim),
          b('v_proj'),
        ],
        0,
      ),
    );
  }
  return y;
}

/**
 * Causal attention of rows over themselves with each key/value head's G query heads stacked into one
 * matmul: q [R, T, H * D] (RoPE applied, scaled), k and v [R, T, Hkv * D], `stackedBias`
 * [R, 1, G * T, T] (stackedBias of the rows' bias).
 */
function groupedAttention(c: DecoderConfig, q: Tensor, k: Tensor, v: Tensor, stackedBias: Tensor): Tensor {
  const G = c.numHeads / c.numKvHeads;
  const D = c.headDim;
  const Hkv = c.numKvHeads;
  const qh = op.reshape(op.transpose(op.reshape(q, [0, 0, Hkv, G, D]), [0, 2, 3, 1, 4]), [0, 0, -1, D]); // [R, Hkv, G T, D]
  const kh = op.transpose(op.reshape(k, [0, 0, Hkv, D]), [0, 2, 3, 1]); // [R, Hkv, D, T]
  const vh = op.transpose(op.reshape(v, [0, 0, Hkv, D]), [0, 2, 1, 3]); // [R, Hkv, T, D]
  const probs = op.softmax(op.add(op.matmul(qh, kh), stackedBias), -1); // [R, Hkv, G T, T]
  const ctx = op.reshape(op.matmul(probs, vh), [0, 0, G, -1, D]); // [R, Hkv, G, T, D]
  return op.reshape(op.transpose(ctx, [0, 3, 1, 2, 4]), [0, 0, c.numHeads * D]);
}

/** An attention bias [R, 1, 1, T, T] repeated for the G stacked query heads: [R, 1, G * T, T]. */
export function stackedBias(c: DecoderConfig, bias: Tensor): Tensor {
  const b = op.squeeze(bias, [1]); // [R, 1, T, T]
  return op.concat(new Array<Tensor>(c.numHeads / c.numKvHeads).fill(b), 2);
}
