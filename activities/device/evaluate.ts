// evaluateBenchmark: greedy generation on one benchmark, strict and lenient answer extraction,
// per-item predictions and a summary. Work is saved batch by batch in a folder derived from the
// input, so a retried activity continues where the last attempt stopped; the final folder appears
// atomically when every batch is done.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract, isCorrect } from '../../method/extract';
import { fill } from '../../method/prompts';
import { schemas, type BenchmarkSpecInput, type ModelRef } from '../../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from '../artifact-store';
import { LineWriter } from '../../engine/line-writer';
import { InputError } from '../errors';
import type { Progress } from '../datasets/import-dataset';
import { writeManifest } from '../manifest';
import { readJsonl, type DeviceSession } from './session';

export interface EvaluateBenchmarkInput {
  model: ModelRef;
  benchmark: BenchmarkSpecInput;
  batchSize: number;
}

export interface BenchmarkResult {
  benchmark: string;
  role: 'downstream' | 'general';
  items: number;
  strict: number;
  lenient: number;
  truncated: number;
  uri: string;
  reused: boolean;
}

interface Prediction {
  id: string;
  question: string;
  gold: string;
  completion: string;
  finishReason: string;
  tokens: number;
  strict: { answer: string | null; correct: boolean };
  lenient: { answer: string | null; correct: boolean };
}

export async function evaluateBenchmark(
  store: ArtifactStore,
  session: DeviceSession,
  input: EvaluateBenchmarkInput,
  progress: Progress,
): Promise<BenchmarkResult> {
  const bench = schemas.benchmarkSpec.parse(input.benchmark);
  const dataPath = store.resolve(bench.data);
  if (!existsSync(dataPath))
    throw new InputError(`benchmark ${bench.name}: ${bench.data} does not exist in the artifact store`);
  const modelKey = await session.modelKey(store, input.model);
  const dataSha = await sha256File(dataPath);
  // the batch size changes nothing in greedy results, so it is not part of the key
  const key = sha256(canonicalJson({ modelKey, bench, dataSha })).slice(0, 16);
  const outRef = `evaluations/${modelKey}/${bench.name}-${key}`;
  const outPath = store.resolve(outRef);
  const summaryOf = async (reused: boolean): Promise<BenchmarkResult> => ({
    ...(JSON.parse(await readFile(join(outPath, 'summary.json'), 'utf8')) as Omit<BenchmarkResult, 'reused' | 'uri'>),
    uri: store.ref(outPath),
    reused,
  });
  if (existsSync(join(outPath, 'summary.json'))) return summaryOf(true);

  const records = await readJsonl<{ id?: unknown; question?: unknown; answer?: unknown }>(dataPath, bench.data);
  records.forEach((r, i) => {
    for (const f of ['id', 'question', 'answer'] as const)
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${bench.data}:${i + 1}: ${f}: must be a non-empty string`);
  });
  const items = (bench.limit ? records.slice(0, bench.limit) : records) as {
    id: string;
    question: string;
    answer: string;
  }[];

  const work = `${outPath}.partial`;
  await mkdir(work, { recursive: true });
  const { loaded, program } = await session.generator(store, input.model);
  const tokenizer = loaded.model.tokenizer!;
  const batches = Math.ceil(items.length / input.batchSize);
  for (let b = 0; b < batches; b++) {
    const file = join(work, `batch-${String(b).padStart(6, '0')}.jsonl`);
    if (existsSync(file)) continue;
    progress.checkCancelled();
    const slice = items.slice(b * input.batchSize, (b + 1) * input.batchSize);
    const generations = await program.generate(
      slice.map((r) => ({ id: r.id, prompt: tokenizer.encode(fill(bench.promptFormat, { question: r.question })) })),
      { maxNewTokens: bench.maxNewTokens, temperature: 0 },
    );
    const rows = generations.map((g, i): Prediction => {
      const gold = slice[i].answer;
      const verdict = (mode: 'strict' | 'lenient') => ({
        answer: extract(g.text, bench.extractor, mode) ?? null,
        correct: isCorrect(g.text, gold, bench.extractor, mode),
      });
      return {
        id: g.id,
        question: slice[i].question,
        gold,
        completion: g.text,
        finishReason: g.finishReason,
        tokens: g.tokens.length,
        strict: verdict('strict'),
        lenient: verdict('lenient'),
      };
    });
    await writeFile(`${file}.tmp`, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await rename(`${file}.tmp`, file);
    progress.heartbeat({
      benchmark: bench.name,
      done: Math.min(items.length, (b + 1) * input.batchSize),
      of: items.length,
    });
  }

  await store.writeDir(outRef, async (tmp) => {
    const out = new LineWriter(join(tmp, 'predictions.jsonl'));
    let strict = 0;
    let lenient = 0;
    let truncated = 0;
    for (const f of (await readdir(work)).filter((f) => f.endsWith('.jsonl')).sort()) {
      for (const p of await readJsonl<Prediction>(join(work, f), f)) {
        strict += Number(p.strict.correct);
        lenient += Number(p.lenient.correct);
        truncated += Number(p.finishReason === 'length');
        await out.write(JSON.stringify(p));
      }
    }
    await out.close();
    if (out.count !== items.length)
      throw new Error(`${bench.name}: ${out.count} predictions for ${items.length} items`);
    const summary = {
      benchmark: bench.name,
      role: bench.role,
      items: items.length,
      strict: (100 * strict) / items.length,
      lenient: (100 * lenient) / items.length,
      truncated,
    };
    await writeFile(join(tmp, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await writeManifest(tmp, {
      kind: 'evaluation',
      config: { model: input.model, benchmark: bench, decoding: 'greedy' },
      seeds: {},
      inputs: [{ uri: bench.data, sha256: dataSha }],
      files: ['predictions.jsonl', 'summary.json'],
    });
  });
  await rm(work, { recursive: true, force: true });
  return summaryOf(false);
}
