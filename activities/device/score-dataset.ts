// scoreDataset: how natural a dataset's answers are for a model: the negative log-likelihood of each
// answer's tokens after the QA prompt, per record and as a token-weighted mean. The x-axis of the
// dose-response curve, and the alignment signal the rewriter's reward is built on. Asked for, also each
// answer's embedding alone (as the diversity reward sees it), for the dataset's diversity.
import { join } from 'node:path';
import { fill, QA_TEMPLATE } from '../../method/prompts';
import { l2Normalize } from '../../method/rewards';
import type { ModelRef } from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import type { ScoreProgram } from '../../engine/programs';
import { dataInput, readRecords } from '../records';
import { stage } from '../stage';
import type { DeviceSession } from './session';

export interface ScoreDatasetInput {
  model: ModelRef;
  /** A JSONL file of {id, question, answer}. */
  dataset: string;
  promptFormat?: string;
  batchSize?: number;
  /** Also write embeddings.jsonl: the L2-normalised mean-pooled last hidden state of each answer alone. */
  embeddings?: boolean;
}

export interface ScoreDatasetOutput {
  uri: string;
  records: number;
  tokens: number;
  /** Mean NLL per answer token over the whole dataset (nats). */
  meanNll: number;
  /** Mean over records of each record's mean NLL per token. */
  meanRecordNll: number;
  /** embeddings.jsonl ({id, embedding}), when asked for. */
  embeddings?: string;
  reused: boolean;
}

export async function scoreDataset(
  store: ArtifactStore,
  session: DeviceSession,
  input: ScoreDatasetInput,
  progress: Progress,
): Promise<ScoreDatasetOutput> {
  const promptFormat = input.promptFormat ?? QA_TEMPLATE;
  const batchSize = input.batchSize ?? 32;
  const data = await dataInput(store, input.dataset);
  const modelKey = await session.modelKey(store, input.model);
  const spec = {
    kind: 'dataset-score',
    dir: `scores/${modelKey}`,
    // a key without `embeddings` is the one scores had before embeddings existed, so they are reused
    key: { modelKey, dataSha: data.sha256, promptFormat, ...(input.embeddings ? { embeddings: true } : {}) },
    config: { model: input.model, promptFormat, embeddings: input.embeddings ?? false },
    inputs: [{ uri: input.dataset, sha256: data.sha256 }],
  };
  return stage(store, spec, async ({ uri, tmp }) => {
    const records = await readRecords(data, ['id', 'question', 'answer']);
    const { loaded, program } = await session.scorer(store, input.model);
    const tok = loaded.model.tokenizer!;
    const items = records.map((r) => ({
      id: r.id,
      prompt: tok.encode(fill(promptFormat, { question: r.question })),
      target: tok.encode(r.answer, { addSpecialTokens: false }),
    }));
    // batches of similar length waste less padding; the result does not depend on the batching
    const order = [...items.keys()].sort(
      (a, b) => items[a].prompt.length + items[a].target.length - (items[b].prompt.length + items[b].target.length),
    );
    const nll = new Float64Array(items.length);
    for (let i = 0; i < order.length; i += batchSize) {
      progress.checkCancelled();
      const idx = order.slice(i, i + batchSize);
      const r = await program.score(idx.map((j) => items[j]));
      idx.forEach((j, k) => (nll[j] = -r.logprobs[k].reduce((s, x) => s + x, 0)));
      progress.heartbeat({ scored: Math.min(items.length, i + batchSize), of: items.length });
    }
    const tokens = items.reduce((s, it) => s + it.target.length, 0);
    const w = new LineWriter(join(tmp, 'nll.jsonl'));
    for (const [j, it] of items.entries())
      await w.write(JSON.stringify({ id: it.id, tokens: it.target.length, nll: nll[j] / it.target.length }));
    await w.close();
    if (input.embeddings)
      await writeEmbeddings(join(tmp, 'embeddings.jsonl'), items, order, batchSize, program, progress);
    const summary: ScoreDatasetOutput = {
      uri,
      records: items.length,
      tokens,
      meanNll: nll.reduce((s, x) => s + x, 0) / tokens,
      meanRecordNll: items.reduce((s, it, j) => s + nll[j] / it.target.length, 0) / items.length,
      ...(input.embeddings ? { embeddings: `${uri}/embeddings.jsonl` } : {}),
      reused: false,
    };
    return summary;
  });
}

/** Each answer's embedding with no prompt before it, L2-normalised, in the dataset's order. */
async function writeEmbeddings(
  path: string,
  items: { id: string; target: number[] }[],
  order: number[],
  batchSize: number,
  program: Pick<ScoreProgram, 'score'>,
  progress: Progress,
): Promise<void> {
  const out = new Array<Float64Array>(items.length);
  for (let i = 0; i < order.length; i += batchSize) {
    progress.checkCancelled();
    const idx = order.slice(i, i + batchSize);
    const r = await program.score(idx.map((j) => ({ prompt: [], target: items[j].target })));
    idx.forEach((j, k) => (out[j] = l2Normalize(r.embeddings[k])));
    progress.heartbeat({ embedded: Math.min(items.length, i + batchSize), of: items.length });
  }
  const w = new LineWriter(path);
  for (const [j, it] of items.entries()) await w.write(JSON.stringify({ id: it.id, embedding: [...out[j]] }));
  await w.close();
}
