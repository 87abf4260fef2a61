// rewriteDataset: Generate -> Verify -> Fallback. For each record (x, y*), sample k rewrites from the
// rewriting prompt (with the trained policy: the model's adapter), check each with the gate, keep the
// feasible one with the best group reward (the frozen backbone's alignment and diversity terms, as in
// training; the first feasible one with one sample) and fall back to y* when none passes. Every record
// keeps its original, all candidates with their verdicts and rewards, and which was chosen, so copying
// and reward hacking stay visible. Sampling noise is keyed by (seed, record id,
// sample), so a record's rewrites do not depend on batching or sharding.
import { join } from 'node:path';
import { gate } from '../../method/gate';
import { fill, SDFT_GIVEAWAYS } from '../../method/prompts';
import { groupRewards, l2Normalize, PAPER_REWARD_WEIGHTS, type RewardWeights } from '../../method/rewards';
import { isCopy } from '../../method/rollout-stats';
import { generateVerifyFallback } from '../../method/selection';
import {
  schemas,
  type ModelRef,
  type RewriteDatasetInput,
  type RewriteDatasetInputInput,
  type RewriteDatasetOutput,
} from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { LineWriter } from '../../engine/line-writer';
import { dataInput, readRecords } from '../records';
import { backboneScores } from '../../training/backbone-scores';
import { stage } from '../stage';
import { datasetBuilderOptions } from './dataset-builder';
import { judgeByBackbone } from './judge';
import type { DeviceSession } from './session';

// the output's type comes from its schema (schemas/json); exported here beside the code that makes it
export type { RewriteDatasetOutput };

export type { RewriteDatasetInput, RewriteDatasetInputInput };

export async function rewriteDataset(
  store: ArtifactStore,
  session: DeviceSession,
  given: RewriteDatasetInputInput,
  progress: Progress,
): Promise<RewriteDatasetOutput> {
  const input = schemas.rewriteDatasetInput.parse(given);
  const extractor = input.extractor ?? { kind: 'boxed' as const };
  const o = {
    ...datasetBuilderOptions(input, 'rewrite', extractor),
    extractor,
    rewardWeights: input.rewardWeights ?? PAPER_REWARD_WEIGHTS,
    samples: input.samples ?? 1,
    topP: input.topP ?? 1,
    batchSize: input.batchSize ?? 32,
    // only when set, so the keys of earlier rewrites stay as they were
    rejectGiveaways: input.rejectGiveaways || undefined,
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
  // a stored summary crosses into the workflow as this activity's output: checked against its schema
  const out = await stage(store, spec, async ({ uri, tmp }) => {
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
    const recordOf = (j: number) => records[Math.floor(j / o.samples)];
    // the judge, when the gate turns it on: the frozen backbone (the model's adapter off) reads every candidate
    const judged = await judgeByBackbone(
      store,
      session,
      input.model,
      o.gate,
      texts.map((text, j) => ({ question: recordOf(j).question, reference: recordOf(j).answer, candidate: text })),
      progress,
    );
    const verdicts = texts.map((text, j) =>
      rejectGiveaways(
        text,
        gate(text, recordOf(j).answer, o.gate, judged?.[j]),
        o.rejectGiveaways ? SDFT_GIVEAWAYS : undefined,
      ),
    );
    // with several samples the feasible ones compete on the group reward, scored by the backbone alone
    const rewards =
      o.samples > 1 ? await candidateRewards(records, texts, verdicts, o, store, session, input.model) : undefined;
    let passed = 0;
    let answered = 0;
    let copies = 0;
    const rows = records.map((r, i) => {
      const at = (k: number) => i * o.samples + k;
      const candidates = texts.slice(at(0), at(o.samples)).map((text, k) => ({
        text,
        passes: verdicts[at(k)].pass,
        answer: verdicts[at(k)].answer,
        reasons: verdicts[at(k)].reasons,
        finishReason: finish[at(k)],
        ...(judged ? { judge: judged[at(k)] } : {}),
        ...(rewards ? { score: rewards[at(k)].reward, reward: rewards[at(k)] } : {}),
      }));
      const chosen = generateVerifyFallback(r.answer, candidates);
      passed += Number(chosen.rewriteSuccess);
      answered += Number(candidates.some((c) => c.answer));
      copies += candidates.filter((c) => c.passes && isCopy(c.text, r.answer)).length;
      return {
        id: r.id,
        question: r.question,
        answer: chosen.answer,
        original: r.answer,
        rewrite_success: chosen.rewriteSuccess,
        num_rewrite_trials: chosen.numRewriteTrials,
        chosen: chosen.chosen,
        ...(rewards && chosen.chosen !== null ? { chosen_reward: candidates[chosen.chosen].reward } : {}),
        candidates,
      };
    });
    const samplesPassed = verdicts.filter((v) => v.pass).length;
    const w = new LineWriter(join(tmp, 'data.jsonl'));
    for (const row of rows) await w.write(JSON.stringify(row));
    await w.close();
    const summary: RewriteDatasetOutput = {
      uri,
      data: `${uri}/data.jsonl`,
      records: records.length,
      passRate: passed / records.length,
      answerPassRate: answered / records.length,
      samplePassRate: samplesPassed / texts.length,
      sampleAnswerPassRate: verdicts.filter((v) => v.answer).length / texts.length,
      copyRate: samplesPassed ? copies / samplesPassed : 0,
      truncated: finish.filter((f) => f === 'length').length,
      reused: false,
    };
    return summary;
  });
  return schemas.rewriteDatasetOutput.parse(out);
}

/** The gate's verdict, failed with a reason when the text holds one of `phrases`. */
export function rejectGiveaways<V extends { pass: boolean; reasons: string[] }>(
  text: string,
  v: V,
  phrases?: string[],
): V {
  const lower = text.toLowerCase();
  const found = phrases?.find((p) => lower.includes(p.toLowerCase()));
  return found === undefined ? v : { ...v, pass: false, reasons: [...v.reasons, `give-away: contains "${found}"`] };
}

/**
 * Each candidate's group reward among its record's k samples (r = g (1 + lambdaDist r_dist + lambdaDiv
 * r_div), METHOD.md): the backbone's NLL under the QA prefix and its embedding of the candidate alone.
 */
async function candidateRewards(
  records: { question: string }[],
  texts: string[],
  verdicts: { pass: boolean }[],
  o: { samples: number; rewardWeights: RewardWeights; qaPrompt: string; batchSize: number },
  store: ArtifactStore,
  session: DeviceSession,
  model: ModelRef,
) {
  const { loaded, program } = await session.scorer(store, { uri: model.uri });
  const scores = await backboneScores(
    program,
    loaded.model.tokenizer!,
    texts.map((text, j) => ({ question: records[Math.floor(j / o.samples)].question, text })),
    { qaPrompt: o.qaPrompt, batchSize: o.batchSize, embeddings: true },
  );
  const out: { gate: number; nll: number; dist: number; div: number; reward: number }[] = [];
  for (let i = 0; i < records.length; i++) {
    const idx = Array.from({ length: o.samples }, (_, k) => i * o.samples + k);
    const b = groupRewards(
      {
        gate: idx.map((j) => Number(verdicts[j].pass)),
        nll: idx.map((j) => scores.nll[j]),
        embeddings: idx.map((j) => l2Normalize(scores.embeddings[j])),
      },
      o.rewardWeights,
    );
    idx.forEach((j, k) =>
      out.push({ gate: b.gate[k], nll: scores.nll[j], dist: b.dist[k], div: b.div[k], reward: b.reward[k] }),
    );
  }
  return out;
}
