// rewriteDataset: Generate -> Verify -> Fallback. For each record (x, y*), sample k rewrites from the
// rewriting prompt, keep those whose final answer equals y*'s (the gate), take the first feasible one
// and fall back to y* when none passes. Every record keeps its original, all candidates and their
// verdicts, so copying and reward hacking stay visible. Sampling noise is keyed by (seed, record id,
// sample), so a record's rewrites do not depend on batching or sharding.
import { join } from 'node:path';
import { extract, type Extractor } from '../../method/extract';
import { fill, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import { generateVerifyFallback } from '../../method/selection';
import type { ModelRef } from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import { dataInput, readRecords } from '../records';
import { stage } from '../stage';
import type { DeviceSession } from './session';

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
  const data = await dataInput(store, input.dataset);
  const modelKey = await session.modelKey(store, input.model);
  const { batchSize: _b, ...recipe } = o;
  const spec = {
    kind: 'rewritten-dataset',
    dir: 'rewrites',
    name: o.name,
    key: { modelKey, dataSha: data.sha256, recipe },
    config: { model: input.model, ...recipe },
    seeds: { sampling: o.seed },
    inputs: [{ uri: input.dataset, sha256: data.sha256 }],
  };
  return stage(store, spec, async ({ uri, tmp }) => {
    const all = await readRecords(data, ['id', 'question', 'answer']);
    const records = o.limit ? all.slice(0, o.limit) : all;
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
    const w = new LineWriter(join(tmp, 'data.jsonl'));
    for (const row of rows) await w.write(JSON.stringify(row));
    await w.close();
    const summary: RewriteDatasetOutput = {
      uri,
      data: `${uri}/data.jsonl`,
      records: records.length,
      passRate: passed / records.length,
      samplePassRate: samplesPassed / texts.length,
      copyRate: samplesPassed ? copies / samplesPassed : 0,
      truncated: finish.filter((f) => f === 'length').length,
      reused: false,
    };
    return summary;
  });
}
