// evaluateBenchmark: greedy generation on one benchmark, strict and lenient answer extraction,
// per-item predictions and a summary. Work is saved batch by batch in a folder derived from the
// input, so a retried activity continues where the last attempt stopped; the final folder appears
// atomically when every batch is done.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract, isCorrect } from '../../method/extract';
import { fill } from '../../method/prompts';
import {
  schemas,
  type BenchmarkResult,
  type EvaluateBenchmarkInput,
  type EvaluateBenchmarkInputInput,
} from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import { LineWriter } from '../../engine/line-writer';
import type { Progress } from '../datasets/import-dataset';
import { dataInput, readJsonl, readRecords } from '../records';
import { stage } from '../stage';
import type { DeviceSession } from './session';

export type { EvaluateBenchmarkInput, EvaluateBenchmarkInputInput };

export type { BenchmarkResult };

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
  given: EvaluateBenchmarkInputInput,
  progress: Progress,
): Promise<BenchmarkResult> {
  const input = schemas.evaluateBenchmarkInput.parse(given);
  const bench = input.benchmark;
  const data = await dataInput(store, bench.data, `benchmark ${bench.name}`);
  const modelKey = await session.modelKey(store, input.model);
  // the batch size changes nothing in greedy results, so it is not part of the key; nor is where the
  // data lies (its hash is)
  const { data: _data, ...recipe } = bench;
  const spec = {
    kind: 'evaluation',
    dir: `evaluations/${modelKey}`,
    name: bench.name,
    key: { modelKey, bench: recipe, dataSha: data.sha256 },
    config: { model: input.model, benchmark: bench, decoding: 'greedy' },
    inputs: [{ uri: bench.data, sha256: data.sha256 }],
  };
  const result = await stage(store, spec, async ({ path, tmp }) => {
    const records = await readRecords(data, ['id', 'question', 'answer']);
    const items = bench.limit ? records.slice(0, bench.limit) : records;

    // finished batches are kept beside the output until it is complete: a retry continues from them
    const work = `${path}.partial`;
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
    return summary;
  });
  // the partial batches of a finished evaluation (or of one a concurrent attempt finished)
  await rm(`${store.resolve(result.uri)}.partial`, { recursive: true, force: true });
  return result;
}
