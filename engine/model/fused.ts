import type { Tensor } from '../graph';
import * as op from '../ops';
import type { DecoderConfig } from './config';
import { attentionCore, embedding, linear, rmsNormalize, swiGlu } from './composites';
import { type DecoderParams, ropeAngles } from './decoder';

/**
 * Attention of the fused layers, by key/value head: per key/value head h, the queries of its G query
 * heads q[h] [..., G * headDim] (RoPE applied, scaled by 1 / sqrt(headDim)), its keys k[h] and values
 * v[h] [..., headDim], in the layout of the tokens; returns per h the context [..., G * headDim]. By
 * head, because the projection's split can cut each head's columns out as cheaply as its q, k and v,
 * and then no transpose ever moves heads in front of tokens.
 */
export type FusedAttention = (q: Tensor[], k: Tensor[], v: Tensor[]) => Tensor[];

/**
 * The decoder's layers for small-width training (the packed train step): the same function as
 * decoderLayers, written with fewer and larger ops, because at width 128 the per-op cost of many
 * small elementwise ops, not the matmul FLOPs, dominates a train step (onnxruntime's per-op profile
 * of the world's backbone: RoPE's split, broadcast multiplies and concat alone took 15% of the step,
 * its AdamW 3%):
 * - q, k and v come out of one matmul, whose weight also holds the rotate-half images of the q and
 *   k columns (a signed permutation of columns, exact), so RoPE is two same-shape multiplies and an
 *   add with cos/sin tiled once per step, and 1 / sqrt(headDim) rides on the q angles;
 * - each RMSNorm's weight is folded into the rows of the weights its output feeds (normFolded), so
 *   the norm itself is only the normalization;
 * - LoRA adapters are merged into the weights in the graph (W + s A B, weight-sized), so the fused
 *   matmuls serve LoRA too.
 * The sums run in other orders, so results agree with decoderLayers up to float rounding.
 * tokens and positions int64 of any shape [...]; returns the residual stream after the last layer
 * [..., hidden], before the final norm (fusedLmHead applies it with the LM head, on the rows it needs).
 */
export function fusedDecoderLayers(
  m: DecoderParams,
  tokens: Tensor,
  positions: Tensor,
  attention: FusedAttention,
): Tensor {
  const c = m.config;
  const [D, Hkv, G] = [c.headDim, c.numKvHeads, c.numHeads / c.numKvHeads];
  const { cos, sin } = ropeAngles(c, positions); // [..., D/2]
  const tile = (x: Tensor, heads: number, scale = 1) => {
    const lead = x.shape.slice(0, -1).map(() => 0);
    const full = op.unsqueeze(op.concat([x, x], -1), [-2]); // [..., 1, D]
    const t = op.reshape(op.expand(full, [...lead.map(() => 1), heads, 1]), [...lead, heads * D]);
    return scale === 1 ? t : op.mul(t, scale);
  };
  const scale = 1 / Math.sqrt(D);
  const rope = { cosQ: tile(cos, G, scale), sinQ: tile(sin, G, scale), cosK: tile(cos, 1), sinK: tile(sin, 1) };
  const heads = Array.from({ length: Hkv }, (_, i) => i);
  let h = embedding(m.weight('model.embed_tokens.weight'), tokens);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const qkv = fusedProjection(m, rmsNormalize(h, c.rmsNormEps), m.weight(`${p}input_layernorm.weight`), p, c);
    // per head: q, rot(q) of its G query heads, then k, rot(k) and v of each key/value head
    const parts = op.split(qkv, [...Array<number>(2 * Hkv).fill(G * D), ...Array<number>(3 * Hkv).fill(D)], -1);
    const part = (i: number) => heads.map((j) => parts[i * Hkv + j]); // 0 q, 1 rot(q), 2 k, 3 rot(k), 4 v
    const [qa, qb, ka, kb] = [0, 1, 2, 3].map(part);
    const ctx = attention(
      heads.map((j) => op.add(op.mul(qa[j], rope.cosQ), op.mul(qb[j], rope.sinQ))),
      heads.map((j) => op.add(op.mul(ka[j], rope.cosK), op.mul(kb[j], rope.sinK))),
      part(4),
    );
    // the output projection by head: rows of o_proj per head, each matmul adding onto h (a Gemm)
    const wo =
      Hkv === 1
        ? [effectiveWeight(m, `${p}self_attn.o_proj`)]
        : op.split(effectiveWeight(m, `${p}self_attn.o_proj`), Hkv, 0);
    for (const j of heads) h = op.add(h, linear(ctx[j], wo[j]));
    if (c.oBias) h = op.add(h, m.weight(`${p}self_attn.o_proj.bias`));
    const y = rmsNormalize(h, c.rmsNormEps);
    const norm = m.weight(`${p}post_attention_layernorm.weight`);
    const mlp = (name: string) => {
      const z = linear(y, normFolded(norm, effectiveWeight(m, `${p}mlp.${name}`)));
      return c.mlpBias ? op.add(z, m.weight(`${p}mlp.${name}.bias`)) : z;
    };
    const [gate, up] = [mlp('gate_proj'), mlp('up_proj')];
    let down = linear(swiGlu(gate, up), effectiveWeight(m, `${p}mlp.down_proj`));
    if (c.mlpBias) down = op.add(down, m.weight(`${p}mlp.down_proj.bias`));
    h = op.add(h, down);
  }
  return h;
}

/**
 * The final norm and LM head of the fused layers over rows of their output (the trained rows only:
 * both are row-wise): logits [..., vocab].
 */
export function fusedLmHead(m: DecoderParams, hidden: Tensor): Tensor {
  const c = m.config;
  const w = c.tieWordEmbeddings ? op.transpose(m.weight('model.embed_tokens.weight')) : effectiveWeight(m, 'lm_head');
  return linear(rmsNormalize(hidden, c.rmsNormEps), normFolded(m.weight('model.norm.weight'), w));
}

/**
 * diag(norm) w: an RMSNorm's weight [in] folded into the rows of the weight [in, out] its output
 * feeds, since (n * norm) w = n (diag(norm) w).
 */
function normFolded(norm: Tensor, w: Tensor): Tensor {
  return op.mul(op.unsqueeze(norm, [1]), w);
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

/**
 * RMS-normalized x [.., hidden] -> [q | rot(q) | k | rot(k) | v] in one matmul, the norm's weight
 * folded into its rows (biases likewise, unfolded).
 */
function fusedProjection(m: DecoderParams, x: Tensor, norm: Tensor, p: string, c: DecoderConfig): Tensor {
  // weights [in, out] and biases [out] alike: rotateHalfColumns works on the last axis
  const layout = (f: (module: string) => Tensor) => {
    const [q, k] = [f('q_proj'), f('k_proj')];
    const parts = [q, rotateHalfColumns(q, c.numHeads, c.headDim), k, rotateHalfColumns(k, c.numKvHeads, c.headDim)];
    return op.concat([...parts, f('v_proj')], -1);
  };
  const w = layout((n) => effectiveWeight(m, `${p}self_attn.${n}`));
  const y = linear(x, normFolded(norm, w));
  if (!c.qkvBias) return y;
  return op.add(
    y,
    layout((n) => m.weight(`${p}self_attn.${n}.bias`)),
  );
}

/** One attention block of a flat token stream (engine/programs/packing.ts). */
export interface FlatBlock {
  /** Any tensors of shapes [E, Q] and [E, K]: the block's examples and its query and key slots. */
  queries: Tensor;
  keys: Tensor;
  /**
   * [Q * G, K] (G query heads per key/value head), shared by the block's examples: row t G + g, query
   * slot t's head g, is 0 where slot t sees key slot s, else NEG_INF.
   */
  bias: Tensor;
}

/** A gather of stream rows into slots: per slot its row, per row its slot or one past the last (gatherRows). */
export interface RowMap {
  rows: Tensor;
  inverse: Tensor;
}

/**
 * The gathers of block attention over blocks b = group * chunks + chunk: every block's query slots in
 * one map, block by block; per chunk, the key slots of that chunk's block of every group; and `out`,
 * per stream row its query slot (and per slot its row, or one past the last for padding).
 */
export interface BlockGathers {
  queries: RowMap;
  keys: RowMap[];
  out: RowMap;
}

/**
 * Attention over a flat token stream in blocks, key/value head by key/value head: one gather takes
 * every block's query rows from the stream and one per chunk its blocks' key and value rows (each row
 * at most once per gather, so every gradient is a gather too: gatherRowsSplit), each block attends
 * under its bias with the head's G query heads stacked into one matmul, and every row's context is
 * gathered back from the block holding it as a query.
 */
export function blockAttention(c: DecoderConfig, blocks: FlatBlock[], maps: BlockGathers): FusedAttention {
  const [D, G] = [c.headDim, c.numHeads / c.numKvHeads];
  const chunks = maps.keys.length;
  // the parts of each gather: per block its slots, E * Q or E * K, as a 1-D run-time tensor
  const sizes = (bs: FlatBlock[], slots: 'queries' | 'keys') =>
    op.concat(
      bs.map((b) => op.shapeOf(op.reshape(b[slots], [-1]))),
      0,
    );
  const querySizes = sizes(blocks, 'queries');
  const keySizes = maps.keys.map((_, kc) =>
    sizes(
      blocks.filter((_, b) => b % chunks === kc),
      'keys',
    ),
  );
  // [E * X, F] -> [E, X, F] for the block's [E, Q] (queries, F = G * D) and [E, K] (keys, F = D)
  const shapeWith = (like: Tensor, width: number) => op.concat([op.shapeOf(like), op.ints(like.graph, [width])], 0);
  const shapes = blocks.map((b) => ({ queries: shapeWith(b.queries, G * D), keys: shapeWith(b.keys, D) }));
  const byBlock = (perChunk: Tensor[][]) => blocks.map((_, b) => perChunk[b % chunks][Math.floor(b / chunks)]);
  return (q, k, v) =>
    q.map((qh, h) => {
      const qs = op.gatherRowsSplit(qh, maps.queries.rows, maps.queries.inverse, querySizes);
      const keyParts = (x: Tensor) =>
        byBlock(maps.keys.map((m, kc) => op.gatherRowsSplit(x, m.rows, m.inverse, keySizes[kc])));
      const [ks, vs] = [keyParts(k[h]), keyParts(v[h])];
      const ctx = blocks.map((b, i) => {
        // a query slot's G heads are G consecutive rows: [E, Q, G * D] as [E, Q * G, D], no copy
        const qb = op.reshape(op.reshape(qs[i], shapes[i].queries), [0, -1, D]);
        const [kb, vb] = [op.reshape(ks[i], shapes[i].keys), op.reshape(vs[i], shapes[i].keys)]; // [E, K, D]
        return op.reshape(attentionCore(qb, kb, b.bias, vb), [-1, G * D]); // [E * Q, G * D]
      });
      return op.gatherRows(op.concat(ctx, 0), maps.out.rows, maps.out.inverse);
    });
}
