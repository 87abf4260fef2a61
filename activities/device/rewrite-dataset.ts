// rewriteDataset: Generate -> Verify -> Fallback. For each record (x, y*), sample k rewrites from the
// rewriting prompt, keep those whose final answer equals y*'s (the gate), take the first feasible one
// and fall back to y* when none passes. Every record keeps its original, all candidates and their
// verdicts, so copying and reward hacking stay visible. Sampling noise is keyed by (seed, record id,
// sample), so a record's rewrites do not depend on batching or sharding.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract, type Extractor } from '../../method/extract';
import { fill, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import { generateVerifyFallback } from '../../method/selection';
import type { ModelRef } from '../../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import { InputError } from '../errors';
import { writeManifest } from '../manifest';
import { readJsonl, type DeviceSession } from './session';

export interface RewriteDatasetInput {
  model: ModelRef;
  /** A JSONL file of {id, question, answer}; the answer is y*. */
  dataset: string;
  name?: string;
  /** The rewriting prompt with {question} and {answer}. */
  promptFormat?: string;
  extractor?: Extractor;
  samples?: number;
  /** 0 = greedy (then one sample is enough). */
  temperature?: number;
  topP?: number;
  seed?: number;
  maxNewTokens?: number;
  batchSize?: number;
  limit?: number;
}

export interface RewriteDatasetOutput {
  uri: string;
  data: string;
  records: number;
  /** Share of records with at least one rewrite that passes the gate. */
  passRate: number;
  /** Share of all sampled rewrites that pass. */
  samplePassRate: number;
  /** Share of passing rewrites that are exact copies of y*. */
  copyRate: number;
  truncated: number;
  reused: boolean;
}

export async function rewriteDataset(
  store: ArtifactStore,
  session: DeviceSession,
  input: RewriteDatasetInput,
  progress: Progress,
): Promise<RewriteDatasetOutput> {
  const o = {
    name: input.name ?? 'rewrite',
    promptFormat: input.promptFormat ?? WORLD_REWRITE_PROMPT,
    extractor: input.extractor ?? { kind: 'boxed' as const },
    samples: input.samples ?? 1,
    temperature: input.temperature ?? 0,
    topP: input.topP ?? 1,
    seed: input.seed ?? 0,
    maxNewTokens: input.maxNewTokens ?? 256,
    batchSize: input.batchSize ?? 32,
    limit: input.limit,
  };
  const dataPath = store.resolve(input.dataset);
  if (!existsSync(dataPath)) throw new InputError(`dataset: ${input.dataset} does not exist in the artifact store`);
  const modelKey = await session.modelKey(store, input.model);
  const dataSha = await sha256File(dataPath);
  const { batchSize: _b, ...recipe } = o;
  const key = sha256(canonicalJson({ modelKey, dataSha, recipe })).slice(0, 16);
  const ref = `rewrites/${o.name}-${key}`;
  const path = store.resolve(ref);
  if (existsSync(join(path, 'summary.json'))) {
    return {
      ...(JSON.parse(await readFile(join(path, 'summary.json'), 'utf8')) as RewriteDatasetOutput),
      reused: true,
    };
  }
  const all = await readJsonl<{ id?: unknown; question?: unknown; answer?: unknown }>(dataPath, input.dataset);
  all.forEach((r, i) => {
    for (const f of ['id', 'question', 'answer'] as const)
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${input.dataset}:${i + 1}: ${f}: must be a non-empty string`);
  });
  const records = (o.limit ? all.slice(0, o.limit) : all) as { id: string; question: string; answer: string }[];
  const { loaded, program } = await session.generator(store, input.model);
  const tok = loaded.model.tokenizer!;
  const requests = records.flatMap((r) =>
    Array.from({ length: o.samples }, (_, k) => ({
      id: o.samples === 1 ? r.id : `${r.id}#${k}`,
      prompt: tok.encode(fill(o.promptFormat, { question: r.question, answer: r.answer })),
    })),
  );
  const texts: string[] = [];
  const finish: string[] = [];
  for (let i = 0; i < requests.length; i += o.batchSize) {
    progress.checkCancelled();
    const gens = await program.generate(requests.slice(i, i + o.batchSize), {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: o.seed,
    });
    for (const g of gens) {
      texts.push(g.text);
      finish.push(g.finishReason);
    }
    progress.heartbeat({ generated: texts.length, of: requests.length });
  }
  let passed = 0;
  let samplesPassed = 0;
  let copies = 0;
  const rows = records.map((r, i) => {
    const gold = extract(r.answer, o.extractor, 'strict');
    const candidates = texts.slice(i * o.samples, (i + 1) * o.samples).map((text) => {
      const got = extract(text, o.extractor, 'strict');
      return { text, passes: gold !== undefined && got === gold };
    });
    const chosen = generateVerifyFallback(r.answer, candidates);
    passed += Number(chosen.rewriteSuccess);
    samplesPassed += candidates.filter((c) => c.passes).length;
    copies += candidates.filter((c) => c.passes && c.text.trim() === r.answer.trim()).length;
    return {
      id: r.id,
      question: r.question,
      answer: chosen.answer,
      original: r.answer,
      rewrite_success: chosen.rewriteSuccess,
      num_rewrite_trials: chosen.numRewriteTrials,
      candidates: candidates.map((c, k) => ({ ...c, finishReason: finish[i * o.samples + k] })),
    };
  });
  const summary: RewriteDatasetOutput = {
    uri: store.ref(path),
    data: `${store.ref(path)}/data.jsonl`,
    records: records.length,
    passRate: passed / records.length,
    samplePassRate: samplesPassed / texts.length,
    copyRate: samplesPassed ? copies / samplesPassed : 0,
    truncated: finish.filter((f) => f === 'length').length,
    reused: false,
  };
  await store.writeDir(ref, async (tmp) => {
    const w = new LineWriter(join(tmp, 'data.jsonl'));
    for (const row of rows) await w.write(JSON.stringify(row));
    await w.close();
    await writeFile(join(tmp, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await writeManifest(tmp, {
      kind: 'rewritten-dataset',
      config: { model: input.model, ...recipe },
      seeds: { sampling: o.seed },
      inputs: [{ uri: input.dataset, sha256: dataSha }],
      files: ['data.jsonl', 'summary.json'],
    });
  });
  return summary;
}
