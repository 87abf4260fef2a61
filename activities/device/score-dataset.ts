// scoreDataset: how natural a dataset's answers are for a model: the negative log-likelihood of each
// answer's tokens after the QA prompt, per record and as a token-weighted mean. The x-axis of the
// dose-response curve, and the alignment signal the rewriter's reward is built on. Asked for, also each
// answer's embedding alone (as the diversity reward sees it), for the dataset's diversity.
import { join } from 'node:path';
import { QA_TEMPLATE } from '../../method/prompts';
import { l2Normalize } from '../../method/rewards';
import { schemas, type ScoreDatasetInput, type ScoreDatasetOutput } from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import { backboneScores } from '../../training/backbone-scores';
import { dataInput, readRecords } from '../records';
import { stage } from '../stage';
import type { DeviceSession } from './session';

// the output's type comes from its schema (schemas/json); exported here beside the code that makes it
export type { ScoreDatasetOutput };

export type { ScoreDatasetInput };

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
  // a stored summary crosses into the workflow as this activity's output: checked against its schema
  const out = await stage(store, spec, async ({ uri, tmp }) => {
    const records = await readRecords(data, ['id', 'question', 'answer']);
    const { loaded, program } = await session.scorer(store, input.model);
    const scores = await backboneScores(
      program,
      loaded.model.tokenizer!,
      records.map((r) => ({ question: r.question, text: r.answer })),
      { qaPrompt: promptFormat, batchSize, byLength: true, embeddings: input.embeddings },
      (done, of) => {
        progress.checkCancelled();
        progress.heartbeat({ scored: done, of });
      },
    );
    const w = new LineWriter(join(tmp, 'nll.jsonl'));
    for (const [j, r] of records.entries())
      await w.write(JSON.stringify({ id: r.id, tokens: scores.tokens[j], nll: scores.nll[j] }));
    await w.close();
    if (input.embeddings) {
      const e = new LineWriter(join(tmp, 'embeddings.jsonl'));
      for (const [j, r] of records.entries())
        await e.write(JSON.stringify({ id: r.id, embedding: [...l2Normalize(scores.embeddings[j])] }));
      await e.close();
    }
    const tokens = scores.tokens.reduce((s, n) => s + n, 0);
    const summary: ScoreDatasetOutput = {
      uri,
      records: records.length,
      tokens,
      meanNll: scores.sums.reduce((s, x) => s + x, 0) / tokens,
      meanRecordNll: scores.nll.reduce((s, x) => s + x, 0) / records.length,
      ...(input.embeddings ? { embeddings: `${uri}/embeddings.jsonl` } : {}),
      reused: false,
    };
    return summary;
  });
  return schemas.scoreDatasetOutput.parse(out);
}
