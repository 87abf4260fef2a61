// The packed SFT train step (TrainProgramOptions.packed): examples side by side in rows
// (packing.ts), attention block-diagonal per example, the decoder's layers in fewer, larger ops
// (model/fused.ts), and the LM head and loss over exactly the trained tokens (gathered from the
// flattened hidden states). Against the padded step it computes
// the same token-mean cross-entropy on the same examples, with less padding in every layer.
import type { Tensor, TensorData } from '../graph';
import * as op from '../ops';
import type { BatchSpec } from '../program';
import { names } from '../program';
import { type DecoderParams, lmHead, packedCausalBias } from '../model/decoder';
import { fusedDecoderLayers } from '../model/fused';
import { f32, i64 } from './common';
import { packRows, packedFeeds } from './packing';

export interface PackedExample {
  prompt: number[];
  target: number[];
}

/** Batch inputs of one micro-batch: rows [R, T] and trained-token slots [N]. */
export const PACKED_BATCH: BatchSpec[] = [
  { name: 'tokens', dtype: 'int64', shape: ['rows', 'width'] },
  { name: 'segments', dtype: 'int64', shape: ['rows', 'width'] },
  { name: 'positions', dtype: 'int64', shape: ['rows', 'width'] },
  { name: 'pred', dtype: 'int64', shape: ['trained'] },
  { name: 'target', dtype: 'int64', shape: ['trained'] },
  { name: 'weight', dtype: 'float32', shape: ['trained'] },
];

/** Token-mean cross-entropy over the weighted trained slots, and their count as the `tokens` metric. */
export function packedSftLoss(
  dm: DecoderParams,
  b: Record<string, Tensor>,
): { loss: Tensor; metrics: Record<string, Tensor> } {
  const hidden = fusedDecoderLayers(dm, b.tokens, b.positions, packedCausalBias(b.segments));
  const flat = op.reshape(hidden, [-1, dm.config.hiddenSize]);
  const logits = lmHead(dm, op.gather(flat, b.pred, 0)); // [N, vocab]
  const lp = op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(b.target, [-1]), -1), [-1]);
  const count = op.reduceSum(b.weight);
  const loss = op.neg(op.div(op.reduceSum(op.mul(lp, b.weight)), op.max(count, 1)));
  return { loss, metrics: { tokens: count } };
}

/**
 * Feeds of a run: micro-batches packed one by one, then all laid out in one shape (the run's
 * longest example as the row width, the most rows and trained tokens of any micro-batch), with a
 * leading shape `lead` ([K], or [steps, micro-batches] when accumulating).
 */
export function packedRunFeeds(micro: PackedExample[][], lead: number[]): Record<string, TensorData> {
  const all = micro.flat();
  const T = Math.max(2, ...all.map((e) => e.prompt.length + e.target.length));
  const packs = micro.map((mb) =>
    packRows(
      mb.map((e) => e.prompt.length + e.target.length),
      T,
    ),
  );
  const R = Math.max(1, ...packs.map((p) => p.rows.length));
  const N = Math.max(1, ...micro.map((mb) => mb.reduce((s, e) => s + e.target.length, 0)));
  const cols: Record<string, number[]> = { tokens: [], segments: [], positions: [], pred: [], target: [], weight: [] };
  micro.forEach((mb, k) => {
    const items = mb.map((e) => ({ tokens: [...e.prompt, ...e.target], firstTrained: e.prompt.length }));
    const f = packedFeeds(items, packs[k], R, T, N);
    for (const key of Object.keys(cols)) for (const v of f[key as keyof typeof f]) cols[key].push(v);
  });
  const rowShape = [...lead, R, T];
  const slotShape = [...lead, N];
  return {
    [names.batch('tokens')]: i64(rowShape, cols.tokens),
    [names.batch('segments')]: i64(rowShape, cols.segments),
    [names.batch('positions')]: i64(rowShape, cols.positions),
    [names.batch('pred')]: i64(slotShape, cols.pred),
    [names.batch('target')]: i64(slotShape, cols.target),
    [names.batch('weight')]: f32(slotShape, cols.weight),
  };
}
