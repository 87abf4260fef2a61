// scoreDataset: how natural a dataset's answers are for a model: the negative log-likelihood of each
// answer's tokens after the QA prompt, per record and as a token-weighted mean. The x-axis of the
// dose-response curve, and the alignment signal the rewriter's reward is built on.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fill, QA_TEMPLATE } from '../../method/prompts';
import type { ModelRef } from '../../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import { InputError } from '../errors';
import { writeManifest } from '../manifest';
import { readJsonl, type DeviceSession } from './session';

export interface ScoreDatasetInput {
  model: ModelRef;
  /** A JSONL file of {id, question, answer}. */
  dataset: string;
  promptFormat?: string;
  batchSize?: number;
}

export interface ScoreDatasetOutput {
  uri: string;
  records: number;
  tokens: number;
  /** Mean NLL per answer token over the whole dataset (nats). */
  meanNll: number;
  /** Mean over records of each record's mean NLL per token. */
  meanRecordNll: number;
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
  const dataPath = store.resolve(input.dataset);
  if (!existsSync(dataPath)) throw new InputError(`dataset: ${input.dataset} does not exist in the artifact store`);
  const modelKey = await session.modelKey(store, input.model);
  const dataSha = await sha256File(dataPath);
  const key = sha256(canonicalJson({ modelKey, dataSha, promptFormat })).slice(0, 16);
  const ref = `scores/${modelKey}/${key}`;
  const path = store.resolve(ref);
  if (existsSync(join(path, 'summary.json'))) {
    return { ...(JSON.parse(await readFile(join(path, 'summary.json'), 'utf8')) as ScoreDatasetOutput), reused: true };
  }
  const records = await readJsonl<{ id?: unknown; question?: unknown; answer?: unknown }>(dataPath, input.dataset);
  records.forEach((r, i) => {
    for (const f of ['id', 'question', 'answer'] as const)
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${input.dataset}:${i + 1}: ${f}: must be a non-empty string`);
  });
  const { loaded, program } = await session.scorer(store, input.model);
  const tok = loaded.model.tokenizer!;
  const items = records.map((r) => ({
    id: r.id as string,
    prompt: tok.encode(fill(promptFormat, { question: r.question as string })),
    target: tok.encode(r.answer as string, { addSpecialTokens: false }),
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
  const summary: ScoreDatasetOutput = {
    uri: store.ref(path),
    records: items.length,
    tokens,
    meanNll: nll.reduce((s, x) => s + x, 0) / tokens,
    meanRecordNll: items.reduce((s, it, j) => s + nll[j] / it.target.length, 0) / items.length,
    reused: false,
  };
  await store.writeDir(ref, async (tmp) => {
    const w = new LineWriter(join(tmp, 'nll.jsonl'));
    for (const [j, it] of items.entries())
      await w.write(JSON.stringify({ id: it.id, tokens: it.target.length, nll: nll[j] / it.target.length }));
    await w.close();
    await writeFile(join(tmp, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await writeManifest(tmp, {
      kind: 'dataset-score',
      config: { model: input.model, promptFormat },
      seeds: {},
      inputs: [{ uri: input.dataset, sha256: dataSha }],
      files: ['nll.jsonl', 'summary.json'],
    });
  });
  return summary;
}
