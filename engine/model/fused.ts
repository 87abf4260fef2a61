import type { Tensor } from '../graph';
import * as op from '../ops';
import type { DecoderConfig } from './config';
import { attentionCore, embedding, rmsNorm, swiGlu } from './composites';
import { type DecoderParams, ropeAngles } from './decoder';

/**
 * Attention of the fused layers: queries [..., numHeads * headDim] (RoPE applied, scaled by
 * 1 / sqrt(headDim)), keys and values [..., numKvHeads * headDim], in the layout of the tokens; returns
 * the context in that layout.
 */
export type FusedAttention = (q: Tensor, k: Tensor, v: Tensor) => Tensor;

/**
 * The decoder's layers for small-width training (the packed train step): the same function as
 * decoderLayers, written with fewer and larger ops, because at width 128 the per-op cost of many
 * small elementwise ops, not the matmul FLOPs, dominates a train step (onnxruntime's per-op profile
 * of the world's backbone: RoPE's split, broadcast multiplies and concat alone took 15% of the step,
 * its AdamW 3%):
 * - q, k and v come out of one matmul, whose weight also holds the rotate-half images of the q and
 *   k columns (a signed permutation of columns, exact), so RoPE is two same-shape multiplies and an
 *   add with cos/sin tiled once per step, and 1 / sqrt(headDim) rides on the q angles;
 * - LoRA adapters are merged into the weights in the graph (W + s A B, weight-sized), so the fused
 *   matmuls serve LoRA too.
 * The sums run in other orders, so results agree with decoderLayers up to float rounding.
 * tokens and positions int64 of any shape [...]; returns the final-norm hidden states [..., hidden].
 */
export function fusedDecoderLayers(
  m: DecoderParams,
  tokens: Tensor,
  positions: Tensor,
  attention: FusedAttention,
): Tensor {
  const c = m.config;
  const { cos, sin } = ropeAngles(c, positions); // [..., D/2]
  const tile = (x: Tensor, heads: number, scale = 1) => {
    const lead = x.shape.slice(0, -1).map(() => 0);
    const full = op.unsqueeze(op.concat([x, x], -1), [-2]); // [..., 1, D]
    const t = op.reshape(op.expand(full, [...lead.map(() => 1), heads, 1]), [...lead, heads * c.headDim]);
    return scale === 1 ? t : op.mul(t, scale);
  };
  const scale = 1 / Math.sqrt(c.headDim);
  const rope = {
    cosQ: tile(cos, c.numHeads, scale),
    sinQ: tile(sin, c.numHeads, scale),
    cosK: tile(cos, c.numKvHeads),
    sinK: tile(sin, c.numKvHeads),
  };
  const [q, kv] = [c.numHeads * c.headDim, c.numKvHeads * c.headDim];
  let h = embedding(m.weight('model.embed_tokens.weight'), tokens);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const qkv = fusedProjection(m, rmsNorm(h, m.weight(`${p}input_layernorm.weight`), c.rmsNormEps), p, c);
    const [qa, qb, ka, kb, v] = op.split(qkv, [q, q, kv, kv, kv], -1);
    const qr = op.add(op.mul(qa, rope.cosQ), op.mul(qb, rope.sinQ));
    const kr = op.add(op.mul(ka, rope.cosK), op.mul(kb, rope.sinK));
    h = op.add(h, op.matmul(attention(qr, kr, v), effectiveWeight(m, `${p}self_attn.o_proj`)));
    if (c.oBias) h = op.add(h, m.weight(`${p}self_attn.o_proj.bias`));
    const y = rmsNorm(h, m.weight(`${p}post_attention_layernorm.weight`), c.rmsNormEps);
    const mlp = (name: string) => {
      const z = op.matmul(y, effectiveWeight(m, `${p}mlp.${name}`));
      return c.mlpBias ? op.add(z, m.weight(`${p}mlp.${name}.bias`)) : z;
    };
    const [gate, up] = [mlp('gate_proj'), mlp('up_proj')];
    let down = op.matmul(swiGlu(gate, up), effectiveWeight(m, `${p}mlp.down_proj`));
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

/** One attention block of a flat token stream (engine/programs/packing.ts). */
export interface FlatBlock {
  /** Stream rows of the block's queries [E, Q] and keys [E, K], per example of the block. */
  q: Tensor;
  k: Tensor;
  /** [E, 1, Q, K]: 0 where the query sees the key, else NEG_INF. */
  bias: Tensor;
  /** Per stream row, its slot in q / k flattened, or one past the end. */
  qInv: Tensor;
  kInv: Tensor;
}

/**
 * Attention over a flat token stream in blocks: each block gathers its examples' query and key rows
 * from the stream, attends under its bias, and every row's context is gathered back (`out.rows`: its
 * slot among all blocks' query slots, block by block) from the block holding it as a query. Every
 * gather reads each row at most once where the gradient is not zero, so their gradients are gathers
 * too (gatherRows).
 */
export function blockAttention(
  c: DecoderConfig,
  blocks: FlatBlock[],
  out: { rows: Tensor; inverse: Tensor },
): FusedAttention {
  const stacked = blocks.map((b) => stackedBias(c, b.bias));
  const width = c.numHeads * c.headDim;
  return (q, k, v) => {
    const ctx = blocks.map((b, i) => {
      const qb = op.gatherRows(q, b.q, b.qInv); // [E, Q, H * D]
      const kb = op.gatherRows(k, b.k, b.kInv);
      const vb = op.gatherRows(v, b.k, b.kInv);
      return op.reshape(groupedAttention(c, qb, kb, vb, stacked[i]), [-1, width]);
    });
    return op.gatherRows(op.concat(ctx, 0), out.rows, out.inverse);
  };
}

/**
 * Attention of E examples with each key/value head's G query heads stacked into one matmul:
 * q [E, Q, H * D] (RoPE applied, scaled), k and v [E, K, Hkv * D], `stackedBias` [E, 1, G * Q, K]
 * (stackedBias of the bias [E, 1, Q, K]); returns the context [E, Q, H * D].
 */
function groupedAttention(c: DecoderConfig, q: Tensor, k: Tensor, v: Tensor, stackedBias: Tensor): Tensor {
  const G = c.numHeads / c.numKvHeads;
  const D = c.headDim;
  const Hkv = c.numKvHeads;
  const qh = op.reshape(op.transpose(op.reshape(q, [0, 0, Hkv, G, D]), [0, 2, 3, 1, 4]), [0, 0, -1, D]); // [E, Hkv, G Q, D]
  const kh = op.transpose(op.reshape(k, [0, 0, Hkv, D]), [0, 2, 3, 1]); // [E, Hkv, D, K]
  const vh = op.transpose(op.reshape(v, [0, 0, Hkv, D]), [0, 2, 1, 3]); // [E, Hkv, K, D]
  const ctx = op.reshape(attentionCore(qh, kh, stackedBias, vh), [0, 0, G, -1, D]); // [E, Hkv, G, Q, D]
  return op.reshape(op.transpose(ctx, [0, 3, 1, 2, 4]), [0, 0, c.numHeads * D]);
}

/**
 * An attention bias [E, 1, Q, K] repeated for the G stacked query heads: [E, 1, G * Q, K], left to
 * broadcast over the key/value heads (expanded to the scores' shape, the adds were no faster).
 */
function stackedBias(c: DecoderConfig, bias: Tensor): Tensor {
  return op.concat(new Array<Tensor>(c.numHeads / c.numKvHeads).fill(bias), 2);
}
