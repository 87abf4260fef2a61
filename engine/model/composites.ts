import { type Tensor, tensorData } from '../graph';
import * as op from '../ops';
import { defineComposite } from '../ops/grad-rules';

/**
 * Pieces of the fused layers (fused.ts) with hand-written gradients (ops/grad-rules.ts
 * defineComposite). Their forward ops are those of decoder.ts; only the backward differs, in fewer
 * passes over the large tensors than the chain rule through each op takes, because at width 128 those
 * memory-bound passes, not the matmuls, fill most of a train step. The results agree with the
 * op-by-op gradient up to float rounding (test/engine/composites.test.ts checks both against finite
 * differences).
 */

/**
 * RMS normalization x / sqrt(mean(x^2) + eps) over the last axis, without RMSNorm's weight: the fused
 * layers fold that weight into the rows of the matmul the norm feeds (fused.ts), a weight-sized
 * multiply in place of activation-sized passes. With n = x r (r the inverse root),
 * dx = r dn - n r mean(dn n): five passes over x's shape where RMSNorm's op-by-op rule, weight
 * included, takes eleven and an Expand.
 */
export function rmsNormalize(x: Tensor, eps: number): Tensor {
  const H = x.shape[x.rank - 1];
  if (typeof H !== 'number') throw new Error(`rmsNormalize: the last axis of ${x} must be static`);
  const r = op.reciprocal(op.sqrt(op.add(op.mul(op.reduceSumSquare(x, [-1], true), 1 / H), eps)));
  const n = op.mul(x, r);
  defineComposite('rms_normalize', [x], [n], (_node, [dn]) => {
    const c = op.mul(op.reduceMean(op.mul(dn!, n), [-1], true), r);
    return [op.sub(op.mul(dn!, r), op.mul(n, c))];
  });
  return n;
}

/**
 * SwiGLU's gating silu(gate) * up. With s = sigmoid(gate) and a = gate s (kept from the forward),
 * dup = dh a, dgate = dh up (s + a (1 - s)): six passes where the op-by-op rule takes eight.
 */
export function swiGlu(gate: Tensor, up: Tensor): Tensor {
  const s = op.sigmoid(gate);
  const a = op.mul(gate, s);
  const h = op.mul(a, up);
  defineComposite('swiglu', [gate, up], [h], (_node, [dh], needs) => {
    const dgate = needs[0] ? op.mul(op.mul(dh!, up), op.add(s, op.mul(a, op.sub(1, s)))) : undefined;
    return [dgate, needs[1] ? op.mul(dh!, a) : undefined];
  });
  return h;
}

/**
 * x w for a weight w [in, out] (x [..., in]). When the weight is wider than tall its gradient x^T dy
 * over the rows of x is taken as (dy^T x)^T: onnxruntime's kernel runs the long reduction over the
 * rows faster with the wider operand first, and the transpose is weight-sized
 * (bench/engine-matmul-orientation.ts, the world's width-128 weights over 8,178 rows: [128, 352] 1.23x
 * and [128, 448] 1.24x faster so, [352, 128] and [64, 128] 0.78x and 0.59x: those keep x^T dy). Only
 * the fused layers take it: MatMul's own rule keeps x^T dy, so the padded step's numbers stay as
 * they were.
 */
export function linear(x: Tensor, w: Tensor): Tensor {
  const y = op.matmul(x, w);
  const [k, m] = w.shape;
  if (w.rank !== 2 || typeof k !== 'number' || typeof m !== 'number' || m <= k) return y;
  defineComposite('linear', [x, w], [y], (_node, [dy], needs) => {
    const rows = (t: Tensor, n: number) => (t.rank === 2 ? t : op.reshape(t, [-1, n]));
    return [
      needs[0] ? op.matmul(dy!, op.transposeLast2(w)) : undefined,
      needs[1] ? op.transposeLast2(op.matmul(op.transposeLast2(rows(dy!, m)), rows(x, k))) : undefined,
    ];
  });
  return y;
}

/**
 * The attention core softmax(q k^T + bias) v: q [..., Q, D] (scaled), k [..., K, D], bias broadcastable
 * to the scores [..., Q, K] (not differentiated), v [..., K, D]; returns [..., Q, D]. Keys enter
 * untransposed: onnxruntime folds each transpose of the last two axes into its FusedMatMul, so no
 * pass copies them.
 * The softmax's gradient p (dp - rowsum(dp p)) takes its row sums from the context instead,
 * rowsum(dp p) = rowsum(dctx ctx) (FlashAttention's identity), a pass over [Q, D] where the scores'
 * row sums take a multiply and a reduction over [Q, K]: two passes over the scores instead of four.
 */
export function attentionCore(q: Tensor, k: Tensor, bias: Tensor, v: Tensor): Tensor {
  const p = op.softmax(op.add(op.matmul(q, op.transposeLast2(k)), bias), -1);
  const ctx = op.matmul(p, v);
  defineComposite('attention_core', [q, k, bias, v], [ctx], (_node, [dctx], needs) => {
    // dp - rowsum in one matmul: [dctx | -rowsum] [v | 1]^T, so no broadcast subtract (a slow
    // kernel: 3x a same-shape multiply) passes over the scores
    const rowsum = op.reduceSum(op.mul(dctx!, ctx), [-1], true); // [..., Q, 1]
    const ones = op.constantOfShape(op.concat([op.shapeOf(v, 0, -1), op.ints(v.graph, [1])], 0), 1, v.dtype);
    const dctxAug = op.concat([dctx!, op.neg(rowsum)], -1);
    const ds = op.mul(p, op.matmul(dctxAug, op.transposeLast2(op.concat([v, ones], -1))));
    return [
      needs[0] ? op.matmul(ds, k) : undefined,
      needs[1] ? op.matmul(op.transposeLast2(ds), q) : undefined,
      undefined,
      needs[3] ? op.matmul(op.transposeLast2(p), dctx!) : undefined,
    ];
  });
  return ctx;
}

/** Vocabularies up to this size take the embedding gradient as a one-hot matmul (embedding). */
export const ONE_HOT_MAX_VOCAB = 1024;

/**
 * The embedding lookup weight[tokens] (weight [V, H], tokens int64 of any shape). Up to
 * ONE_HOT_MAX_VOCAB rows its gradient is onehot(tokens)^T dh, one matmul, where Gather's own rule
 * scatter-adds row by row on one thread (4% of the world's width-128 step: 259 tokens, 8,178 rows).
 */
export function embedding(weight: Tensor, tokens: Tensor): Tensor {
  const h = op.gather(weight, tokens, 0);
  const [V, H] = weight.shape;
  if (typeof V !== 'number' || typeof H !== 'number' || V > ONE_HOT_MAX_VOCAB) return h;
  defineComposite('embedding', [weight, tokens], [h], (_node, [dh], needs) => {
    if (!needs[0]) return [undefined, undefined];
    const vocab = op.constant(
      weight.graph,
      tensorData(
        'int64',
        [V],
        Array.from({ length: V }, (_, i) => i),
      ),
    );
    const oneHot = op.cast(op.equal(op.unsqueeze(op.reshape(tokens, [-1]), [-1]), vocab), weight.dtype); // [N, V]
    return [op.matmul(op.transposeLast2(oneHot), op.reshape(dh!, [-1, H])), undefined];
  });
  return h;
}
