// The packed SFT train step (TrainProgramOptions.packed): the batch's examples as one flat token
// stream (packing.ts), the decoder's layers in fewer, larger ops over it (model/fused.ts), attention
// in blocks of examples of similar length, and the LM head and loss over exactly the trained tokens.
// Against the padded step it computes the same token-mean cross-entropy on the same examples without
// computing anything on padding, and attention without most of what causality masks.
import type { Tensor, TensorData } from '../graph';
import * as op from '../ops';
import type { BatchSpec } from '../program';
import { names } from '../program';
import { type DecoderParams, NEG_INF } from '../model/decoder';
import { type FlatBlock, blockAttention, fusedDecoderLayers, fusedLmHead } from '../model/fused';
import { f32, i64 } from './common';
import { packedDims, packedFeeds, packedLayout } from './packing';

export interface PackedExample {
  prompt: number[];
  target: number[];
}

/**
 * Attention blocks of a packed step: up to `groups` groups of examples by length, each in `chunks`
 * causal chunks of queries. The default is measured on the world's pretraining batches
 * (bench/engine-world-train.ts).
 */
export interface PackedBlocks {
  groups: number;
  chunks: number;
}

export const PACKED_BLOCKS: PackedBlocks = { groups: 2, chunks: 2 };

/** Batch inputs of one micro-batch (packing.ts packedFeeds), with symbolic sizes. */
export function packedBatch({ groups, chunks }: PackedBlocks = PACKED_BLOCKS): BatchSpec[] {
  return [
    { name: 'tokens', dtype: 'int64', shape: ['rows'] },
    { name: 'positions', dtype: 'int64', shape: ['rows'] },
    { name: 'out', dtype: 'int64', shape: ['rows'] },
    { name: 'out_inv', dtype: 'int64', shape: ['slots'] },
    { name: 'q_rows', dtype: 'int64', shape: ['slots'] },
    { name: 'q_inv', dtype: 'int64', shape: ['rows'] },
    { name: 'pred', dtype: 'int64', shape: ['trained'] },
    { name: 'pred_inv', dtype: 'int64', shape: ['rows'] },
    { name: 'target', dtype: 'int64', shape: ['trained'] },
    { name: 'weight', dtype: 'float32', shape: ['trained'] },
    ...Array.from({ length: chunks }, (_, c): BatchSpec[] => [
      { name: `k_rows${c}`, dtype: 'int64', shape: [`key_slots${c}`] },
      { name: `k_inv${c}`, dtype: 'int64', shape: ['rows'] },
    ]).flat(),
    ...Array.from({ length: groups * chunks }, (_, b): BatchSpec[] => [
      { name: `k${b}`, dtype: 'int64', shape: [`e${b}`, `k${b}`] },
      { name: `qpos${b}`, dtype: 'int64', shape: [`e${b}`, `q${b}`] },
    ]).flat(),
  ];
}

/**
 * A block's attention bias [Q * G, K] for its G-stacked queries (row t G + g: query slot t, head g):
 * 0 where key slot s <= the query's position, else NEG_INF. One bias serves all the block's examples:
 * its first example is its longest, so its positions qpos[0] are the chunk's (-1 past its end: those
 * slots see nothing), and an example's key slot s is its column s, so the slots a query at position
 * p sees, 0..p, are all real keys of its own example.
 */
function blockBias(qpos: Tensor, k: Tensor, G: number): Tensor {
  const g = qpos.graph;
  const first = op.gather(qpos, op.scalar(g, 0, 'int64'), 0); // [Q]
  const pos = G === 1 ? first : op.reshape(op.expand(op.unsqueeze(first, [1]), [1, G]), [-1]); // [Q * G]
  const slots = op.range(op.scalar(g, 0, 'int64'), op.dimOf(k, 1), op.scalar(g, 1, 'int64')); // [K]
  const seen = op.lessOrEqual(slots, op.unsqueeze(pos, [1])); // [Q * G, K]
  return op.where(seen, op.scalar(g, 0, 'float32'), op.scalar(g, NEG_INF, 'float32'));
}

/** Token-mean cross-entropy over the weighted trained slots, and their count as the `tokens` metric. */
export function packedSftLoss(
  dm: DecoderParams,
  b: Record<string, Tensor>,
  { groups, chunks }: PackedBlocks = PACKED_BLOCKS,
): { loss: Tensor; metrics: Record<string, Tensor> } {
  const G = dm.config.numHeads / dm.config.numKvHeads;
  const blocks = Array.from({ length: groups * chunks }, (_, i): FlatBlock => ({
    queries: b[`qpos${i}`],
    keys: b[`k${i}`],
    bias: blockBias(b[`qpos${i}`], b[`k${i}`], G),
  }));
  const attention = blockAttention(dm.config, blocks, {
    queries: { rows: b.q_rows, inverse: b.q_inv },
    keys: Array.from({ length: chunks }, (_, c) => ({ rows: b[`k_rows${c}`], inverse: b[`k_inv${c}`] })),
    out: { rows: b.out, inverse: b.out_inv },
  });
  const hidden = fusedDecoderLayers(dm, b.tokens, b.positions, attention); // [rows, hidden]
  const logits = fusedLmHead(dm, op.gatherRows(hidden, b.pred, b.pred_inv)); // [trained, vocab]
  const lp = op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(b.target, [-1]), -1), [-1]);
  const count = op.reduceSum(b.weight);
  const loss = op.neg(op.div(op.reduceSum(op.mul(lp, b.weight)), op.max(count, 1)));
  return { loss, metrics: { tokens: count } };
}

/**
 * Feeds of a run: micro-batches laid out one by one, then all at one set of sizes (the largest of
 * any micro-batch), with a leading shape `lead` ([K], or [steps, micro-batches] when accumulating).
 */
export function packedRunFeeds(
  micro: PackedExample[][],
  lead: number[],
  { groups, chunks }: PackedBlocks = PACKED_BLOCKS,
): Record<string, TensorData> {
  const layouts = micro.map((mb) =>
    packedLayout(
      mb.map((e) => ({ tokens: [...e.prompt, ...e.target], firstTrained: e.prompt.length })),
      groups,
      chunks,
    ),
  );
  const d = packedDims(layouts);
  const feeds = layouts.map((l) => packedFeeds(l, d));
  const slots = d.blocks.reduce((s, x) => s + x.examples * x.queries, 0);
  const shapes: Record<string, number[]> = {
    tokens: [d.rows],
    positions: [d.rows],
    out: [d.rows],
    out_inv: [slots],
    q_rows: [slots],
    q_inv: [d.rows],
    pred: [d.trained],
    pred_inv: [d.rows],
    target: [d.trained],
    weight: [d.trained],
  };
  for (let c = 0; c < chunks; c++) {
    const keySlots = d.blocks.reduce((s, x, b) => (b % chunks === c ? s + x.examples * x.keys : s), 0);
    Object.assign(shapes, { [`k_rows${c}`]: [keySlots], [`k_inv${c}`]: [d.rows] });
  }
  d.blocks.forEach(({ examples: e, queries: q, keys: k }, b) =>
    Object.assign(shapes, { [`k${b}`]: [e, k], [`qpos${b}`]: [e, q] }),
  );
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => {
      const data = ([] as number[]).concat(...feeds.map((f) => f[name])); // flatMap is slow at 10^5 numbers
      const s = [...lead, ...shape];
      return [names.batch(name), name === 'weight' ? f32(s, data) : i64(s, data)];
    }),
  );
}
