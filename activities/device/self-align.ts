// selfAlignDataset: the self-alignment baseline (Mind the Gap, Zhao et al. 2025) as a dataset builder.
// For each record (x, y*): the backbone's own greedy answer to x under the plain QA prompt, kept iff it
// passes the gate; else one guided rewrite (the rewriting prompt with x and y*), kept iff it passes;
// else the fallback (y*, marked as such, so a `drop` fallback can leave the record out). Mind the Gap's
// importance-weighting stage is left out by design: the arms differ only in their data. Every record
// keeps its original, both candidates with their verdicts, and which one was kept (its provenance).
import { join } from 'node:path';
import type { GenerateProgram } from '../../engine/programs';
import type { TextTokenizer } from '../../engine/tokenizer';
import { gate, type GateVerdict, type JudgeVerdict } from '../../method/gate';
import { fill } from '../../method/prompts';
import { LineWriter } from '../../engine/line-writer';
import type { Progress } from '../datasets/import-dataset';
import type { ArtifactStore } from '../artifact-store';
import { dataInput, readRecords } from '../records';
import { datasetBuilderOptions } from './dataset-builder';
import { schemas, type SelfAlignInput, type SelfAlignInputInput, type SelfAlignOutput } from '../../schemas';
import { judgeByBackbone } from './judge';
import type { DeviceSession } from './session';
import { stage } from '../stage';

/** The guided rewrite samples at `temperature` (0: greedy); the own answer is always greedy. */
export type { SelfAlignInput, SelfAlignInputInput };

export type Provenance = keyof SelfAlignOutput['provenance'];

export type { SelfAlignOutput };

interface Generated {
  text: string;
  finishReason: string;
}

export async function selfAlignDataset(
  store: ArtifactStore,
  session: DeviceSession,
  given: SelfAlignInputInput,
  progress: Progress,
): Promise<SelfAlignOutput> {
  const input = schemas.selfAlignInput.parse(given);
  const o = datasetBuilderOptions(input, 'self-align');
  const batchSize = input.batchSize ?? 32;
  const data = await dataInput(store, input.dataset);
  const modelKey = await session.modelKey(store, input.model);
  const inputs = [{ uri: input.dataset, sha256: data.sha256 }];
  const key = { builder: 'self-alignment', modelKey, dataSha: data.sha256, recipe: o };
  const spec = {
    kind: 'self-aligned-dataset',
    dir: 'rewrites',
    name: o.name,
    key,
    inputs,
    seeds: { sampling: o.seed },
  };
  return stage(store, { ...spec, config: { model: input.model, ...o } }, async ({ uri, tmp }) => {
    const records = (await readRecords(data, ['id', 'question', 'answer'])).slice(0, o.limit ?? Infinity);
    const generator = await session.generator(store, input.model);
    const { program } = generator;
    const tok = generator.loaded.model.tokenizer!;
    const run = (phase: string, prompts: { id: string; text: string }[], temperature: number) =>
      generateInBatches(program, tok, prompts, { ...o, temperature, batchSize }, (done) =>
        progress.heartbeat({ phase, generated: done, of: prompts.length }),
      );

    const own = await run(
      'own',
      records.map((r) => ({ id: r.id, text: fill(o.qaPrompt, { question: r.question }) })),
      0,
    );
    // the judge, when the gate turns it on: the frozen backbone reads each candidate (one forward each)
    const judge = (texts: { text: string; i: number }[]) =>
      judgeByBackbone(
        store,
        session,
        input.model,
        o.gate,
        texts.map(({ text, i }) => ({ question: records[i].question, reference: records[i].answer, candidate: text })),
        progress,
      );
    const ownJudged = await judge(own.map((g, i) => ({ text: g.text, i })));
    const ownVerdicts = own.map((g, i) => gate(g.text, records[i].answer, o.gate, ownJudged?.[i]));
    progress.checkCancelled();
    // only the records whose own answer failed get a guided rewrite
    const retry = records.flatMap((r, i) => (ownVerdicts[i].pass ? [] : [i]));
    const guided = await run(
      'guided',
      retry.map((i) => ({
        id: `${records[i].id}#guided`,
        text: fill(o.promptFormat, { question: records[i].question, answer: records[i].answer }),
      })),
      o.temperature,
    );
    const guidedJudged = await judge(retry.map((i, j) => ({ text: guided[j].text, i })));
    const guidedOf = new Map(retry.map((i, j) => [i, { g: guided[j], judge: guidedJudged?.[j] }]));

    const counts: Record<Provenance, number> = { own: 0, guided: 0, original: 0 };
    const w = new LineWriter(join(tmp, 'data.jsonl'));
    for (const [i, r] of records.entries()) {
      const candidates = [candidate('own', own[i], ownVerdicts[i], ownJudged?.[i])];
      const g = guidedOf.get(i);
      if (g) candidates.push(candidate('guided', g.g, gate(g.g.text, r.answer, o.gate, g.judge), g.judge));
      const kept = candidates.findIndex((c) => c.passes);
      const provenance: Provenance = kept < 0 ? 'original' : candidates[kept].phase;
      counts[provenance]++;
      await w.write(
        JSON.stringify({
          id: r.id,
          question: r.question,
          answer: kept < 0 ? r.answer : candidates[kept].text,
          original: r.answer,
          rewrite_success: kept >= 0,
          num_rewrite_trials: candidates.length,
          chosen: kept < 0 ? null : kept,
          provenance,
          candidates,
        }),
      );
    }
    await w.close();
    const generated = [...own, ...guided];
    const summary: SelfAlignOutput = {
      uri,
      data: `${uri}/data.jsonl`,
      records: records.length,
      provenance: counts,
      passRate: records.length ? (counts.own + counts.guided) / records.length : 0,
      truncated: generated.filter((g) => g.finishReason === 'length').length,
      reused: false,
    };
    return summary;
  });
}

function candidate(phase: 'own' | 'guided', g: Generated, v: GateVerdict, judge?: JudgeVerdict) {
  return {
    phase,
    text: g.text,
    passes: v.pass,
    answer: v.answer,
    reasons: v.reasons,
    finishReason: g.finishReason,
    ...(judge ? { judge } : {}),
  };
}

/** Generations of `prompts` in order, `batchSize` at a time, noise keyed by each prompt's id. */
async function generateInBatches(
  program: GenerateProgram,
  tok: TextTokenizer,
  prompts: { id: string; text: string }[],
  o: { maxNewTokens: number; temperature: number; seed: number; batchSize: number },
  onBatch: (done: number) => void,
): Promise<Generated[]> {
  const out: Generated[] = [];
  for (let at = 0; at < prompts.length; at += o.batchSize) {
    const batch = prompts.slice(at, at + o.batchSize).map((p) => ({ id: p.id, prompt: tok.encode(p.text) }));
    const gens = await program.generate(batch, {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: 1,
      seed: o.seed,
    });
    out.push(...gens.map((g) => ({ text: g.text, finishReason: g.finishReason })));
    onBatch(out.length);
  }
  return out;
}
