// The rewriting policy's device activities: rollout, reward, update and validation of one GRPO step.
// Every output lives in the run's folder under the step's number and is written atomically; a
// complete output is returned as is, so a retried activity redoes nothing that finished. The policy is
// the backbone's programs compiled once with LoRA inputs: the adapter is runner state, replaced each
// step without a recompile, and switched off (scale 0) for the frozen backbone's scores.
import { join } from 'node:path';
import { initLoraWeights, loadPeftAdapter, loraConfig, savePeftAdapter, type LoraConfig } from '../../engine/lora';
import { loadTrainerState, saveTrainerState } from '../../engine/trainer-state';
import { gate } from '../../method/gate';
import { isCopy, promptsForStep } from '../../method/rollout-stats';
import { QA_TEMPLATE, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import { groupRewards, grpoAdvantages, l2Normalize, meanPairwiseDistance } from '../../method/rewards';
import type {
  RewardInput,
  RewardOutput,
  RolloutInput,
  RolloutOutput,
  UpdateInput,
  UpdateOutput,
  ValidateRewriterInput,
  ValidateRewriterOutput,
} from '../../schemas';
import {
  backboneScores,
  grpoUpdate,
  rewritePromptTokens,
  sampleRollouts,
  type RewriteRecord,
  type Rollout,
} from '../../training/grpo';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { InputError, TrainingDivergedError } from '../errors';
import { dataInput, readRecords } from '../records';
import type { DeviceSession } from './session';
import { policyPrograms, type PolicyPrograms } from './policy';
import { readJsonlRows, stageOnce, stepDir } from './rewriter-files';

/** A rollout as stored: the record's question and reference beside the sample, so later stages need no join. */
export interface StoredRollout extends Rollout {
  question: string;
  reference: string;
  /** The rewrite prompt's tokens, as sampled from (the update trains on exactly these). */
  prompt: number[];
}

const GEN_BATCH = 64;
const SCORE_BATCH = 64;

async function records(store: ArtifactStore, uri: string): Promise<RewriteRecord[]> {
  return readRecords(await dataInput(store, uri), ['id', 'question', 'answer'], { nonEmpty: true });
}

const loraOf = (l: RolloutInput['lora']): LoraConfig =>
  loraConfig({ rank: l.rank, alpha: l.alpha, targetModules: l.targetModules });

/**
 * Puts the policy of `adapter` (or the seed's initial adapter) into the runner, unless it is there.
 * With `optimizer`, the AdamW moments come too (the update continues from them).
 */
async function usePolicy(
  store: ArtifactStore,
  p: PolicyPrograms,
  o: { adapter?: string; seed: number; optimizer: boolean },
): Promise<void> {
  const id = o.adapter ?? `init:${o.seed}`;
  if (p.current.id === id && (!o.optimizer || p.current.optimizer)) return;
  if (o.optimizer) {
    if (!p.trainer) throw new Error('usePolicy: the optimizer state needs the train program');
    if (o.adapter) {
      const state = await loadTrainerState(join(store.resolve(o.adapter), 'trainer-state.safetensors'));
      await p.trainer.restoreState(state.tensors);
    } else await p.trainer.init(initLoraWeights(p.model.config, p.lora, o.seed));
  } else {
    const weights = o.adapter
      ? (await loadPeftAdapter(store.resolve(o.adapter), p.model.config)).weights
      : initLoraWeights(p.model.config, p.lora, o.seed);
    await p.generator.setAdapter(weights);
  }
  p.current = { id, optimizer: o.optimizer };
}

export async function rollout(
  store: ArtifactStore,
  session: DeviceSession,
  input: RolloutInput,
  progress: Progress,
): Promise<RolloutOutput> {
  return stageOnce(store, `${stepDir(input.run, input.step)}/rollouts`, async (write, _tmp, ref) => {
    const t0 = Date.now();
    const pool = await records(store, input.dataset);
    const p = await policyPrograms(store, session, input.backbone, loraOf(input.lora));
    await usePolicy(store, p, { adapter: input.adapter, seed: input.seed, optimizer: false });
    // a step crossing an epoch boundary may draw a record twice: once is enough (groups are per record)
    const chosen = [...new Set(promptsForStep(pool.length, input.promptsPerStep, input.seed, input.step - 1))].map(
      (i) => pool[i],
    );
    const out = await sampleRollouts(
      p.generator,
      p.tokenizer,
      chosen,
      {
        groupSize: input.groupSize,
        temperature: input.temperature,
        topP: input.topP,
        maxNewTokens: input.maxNewTokens,
        seed: input.seed,
        step: input.step,
        rewritePrompt: input.rewritePrompt ?? WORLD_REWRITE_PROMPT,
        batchSize: GEN_BATCH,
      },
      (done, of) => progress.heartbeat({ stage: 'rollout', step: input.step, done, of }),
    );
    const byId = new Map(chosen.map((r) => [r.id, r]));
    const prompt = input.rewritePrompt ?? WORLD_REWRITE_PROMPT;
    const rows: StoredRollout[] = out.map((r) => {
      const rec = byId.get(r.recordId)!;
      return {
        ...r,
        question: rec.question,
        reference: rec.answer,
        prompt: rewritePromptTokens(p.tokenizer, prompt, rec),
      };
    });
    await write('rollouts.jsonl', rows);
    const tokens = out.reduce((s, r) => s + r.tokens.length, 0);
    return {
      uri: `${ref}/rollouts.jsonl`,
      prompts: chosen.length,
      rollouts: out.length,
      meanLength: tokens / out.length,
      truncationRate: out.filter((r) => r.finishReason === 'length').length / out.length,
      entropy: -out.reduce((s, r) => s + r.logprobs.reduce((a, b) => a + b, 0), 0) / Math.max(1, tokens),
      ms: Date.now() - t0,
    };
  });
}

interface StoredVerdict {
  answer: boolean;
  full: boolean;
}

export interface StoredReward {
  recordId: string;
  sample: number;
  gate: number;
  nll: number;
  dist: number;
  div: number;
  reward: number;
  advantage: number;
}

/** Indices of the rows of each group (one record's K samples), in order of first appearance. */
export function groupsOf(rows: { recordId: string }[]): number[][] {
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const g = groups.get(r.recordId) ?? [];
    g.push(i);
    groups.set(r.recordId, g);
  });
  return [...groups.values()];
}

export async function reward(
  store: ArtifactStore,
  session: DeviceSession,
  input: RewardInput,
  progress: Progress,
): Promise<RewardOutput> {
  return stageOnce(store, `${stepDir(input.run, input.step)}/rewards`, async (write, _tmp, ref) => {
    const t0 = Date.now();
    const rows = await readJsonlRows<StoredRollout>(store, input.rollouts);
    const verdicts = await readJsonlRows<StoredVerdict>(store, input.verdicts);
    if (verdicts.length !== rows.length)
      throw new InputError(`${input.verdicts}: ${verdicts.length} verdicts for ${rows.length} rollouts`);
    const p = await policyPrograms(store, session, input.backbone, loraOf(input.lora));
    // the adapter is off (scale 0), but the program still reads its tensors: any adapter will do
    if (p.current.id === undefined) await usePolicy(store, p, { seed: 0, optimizer: false });
    const { scorer, tokenizer } = p;
    const scores = await backboneScores(
      scorer,
      tokenizer,
      rows.map((r) => ({ question: r.question, text: r.text })),
      { qaPrompt: input.qaPrompt ?? QA_TEMPLATE, batchSize: SCORE_BATCH },
      (done, of) => progress.heartbeat({ stage: 'reward', step: input.step, done, of }),
    );
    const emb = scores.embeddings.map((e) => l2Normalize(e));
    const out: StoredReward[] = new Array(rows.length);
    let allEqual = 0;
    let diversity = 0;
    const groups = groupsOf(rows);
    for (const idx of groups) {
      const gate = idx.map((i) => Number(verdicts[i].full));
      // the no-gate ablation rewards every rewrite as if it were feasible
      const b = groupRewards(
        {
          gate: input.gateInReward ? gate : gate.map(() => 1),
          nll: idx.map((i) => scores.nll[i]),
          embeddings: idx.map((i) => emb[i]),
        },
        { lambdaDist: input.lambdaDist, lambdaDiv: input.lambdaDiv },
      );
      const adv = grpoAdvantages(b.reward);
      if (b.reward.every((r) => r === b.reward[0])) allEqual++;
      const feasible = idx.map((_, k) => k).filter((k) => gate[k] === 1);
      diversity += meanPairwiseDistance(
        idx.map((i) => emb[i]),
        feasible,
      );
      idx.forEach((i, k) => {
        out[i] = {
          recordId: rows[i].recordId,
          sample: rows[i].sample,
          gate: gate[k],
          nll: scores.nll[i],
          dist: b.dist[k],
          div: b.div[k],
          reward: b.reward[k],
          advantage: adv[k],
        };
      });
    }
    await write('rewards.jsonl', out);
    const mean = (f: (r: StoredReward) => number, rs = out) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    const rm = mean((r) => r.reward);
    const feasible = out.filter((r) => r.gate === 1);
    return {
      uri: `${ref}/rewards.jsonl`,
      rewardMean: rm,
      rewardStd: Math.sqrt(mean((r) => (r.reward - rm) ** 2)),
      gateMean: mean((r) => r.gate),
      distMean: feasible.length ? mean((r) => r.dist, feasible) : 0,
      divMean: feasible.length ? mean((r) => r.div, feasible) : 0,
      feasibleNll: feasible.length ? mean((r) => r.nll, feasible) : null,
      diversity: diversity / groups.length,
      allEqualGroups: allEqual / groups.length,
      ms: Date.now() - t0,
    };
  });
}

export async function update(
  store: ArtifactStore,
  session: DeviceSession,
  input: UpdateInput,
  progress: Progress,
): Promise<UpdateOutput> {
  return stageOnce(store, `${stepDir(input.run, input.step)}/adapter`, async (_write, tmp, ref) => {
    const t0 = Date.now();
    const rows = await readJsonlRows<StoredRollout>(store, input.rollouts);
    const rewards = await readJsonlRows<StoredReward>(store, input.rewards);
    const lora = loraOf(input.lora);
    const p = await policyPrograms(store, session, input.backbone, lora, {
      learningRate: input.learningRate,
      weightDecay: input.weightDecay,
      klCoef: input.klCoef,
      clip: input.clip,
      temperature: input.temperature,
      accumulate: input.microBatch !== undefined,
    });
    progress.heartbeat({ stage: 'update', step: input.step });
    await usePolicy(store, p, { adapter: input.adapter, seed: input.seed, optimizer: true });
    const all = rows.map((r, i) => ({
      prompt: r.prompt,
      completion: r.tokens,
      advantage: input.injectNonFinite && i === 0 ? NaN : rewards[i].advantage,
      samplerLogprobs: r.logprobs,
    }));
    // a group whose rewards are all equal has zero advantages: its surrogate gradient is zero, so
    // skipTiedGroups leaves it out of the update (DAPO's dynamic sampling, without the resampling)
    const tied = new Set(
      groupsOf(rows)
        .filter((g) => g.every((i) => Math.abs(rewards[i].advantage) < 1e-9))
        .flat(),
    );
    const examples = input.skipTiedGroups ? all.filter((_, i) => !tied.has(i)) : all;
    const m = examples.length
      ? await grpoUpdate(p.trainer!, p.scorer, examples, {
          learningRate: input.learningRate,
          temperature: input.temperature,
          scoreBatch: SCORE_BATCH,
          microBatch: input.microBatch,
        })
      : { loss: 0, kl: 0, clipFraction: 0, gradNorm: 0, logprobGap: 0, tokens: 0 };
    if (![m.loss, m.gradNorm, m.kl].every(Number.isFinite)) {
      p.current = { id: 'diverged', optimizer: false };
      throw new TrainingDivergedError(
        `update of step ${input.step}: the loss or gradient is not finite (loss ${m.loss}, gradient norm ${m.gradNorm}); ` +
          `the last good checkpoint is ${input.adapter ?? 'the initial adapter'}`,
      );
    }
    const params = await p.trainer!.params();
    await savePeftAdapter(tmp, p.model.config, lora, params, { baseModel: input.backbone.uri });
    await saveTrainerState(join(tmp, 'trainer-state.safetensors'), {
      tensors: await p.trainer!.stateTensors(),
      dataPosition: { epoch: 0, index: 0 },
      rng: [],
      meta: { step: String(input.step) },
    });
    p.current = { id: ref, optimizer: true };
    return {
      adapter: ref,
      ...m,
      ms: Date.now() - t0,
    };
  });
}

export async function validateRewriter(
  store: ArtifactStore,
  session: DeviceSession,
  input: ValidateRewriterInput,
  progress: Progress,
): Promise<ValidateRewriterOutput> {
  return stageOnce(store, `${input.run}/validation/${String(input.step).padStart(6, '0')}`, async (write, _t, ref) => {
    const all = await records(store, input.dataset);
    const recs = input.limit ? all.slice(0, input.limit) : all;
    const p = await policyPrograms(store, session, input.backbone, loraOf(input.lora));
    await usePolicy(store, p, { adapter: input.adapter, seed: input.seed, optimizer: false });
    const prompt = input.rewritePrompt ?? WORLD_REWRITE_PROMPT;
    const common = { topP: input.topP, maxNewTokens: input.maxNewTokens, rewritePrompt: prompt, batchSize: GEN_BATCH };
    const hb = (what: string) => (done: number, of: number) =>
      progress.heartbeat({ stage: 'validate', step: input.step, what, done, of });
    const greedy = await sampleRollouts(
      p.generator,
      p.tokenizer,
      recs,
      { ...common, groupSize: 1, temperature: 0, seed: 0, step: 0 },
      hb('greedy'),
    );
    const sampled = await sampleRollouts(
      p.generator,
      p.tokenizer,
      recs,
      { ...common, groupSize: input.samples, temperature: input.temperature, seed: input.seed, step: 0 },
      hb('sampled'),
    );
    const verdict = (text: string, r: RewriteRecord) => {
      const v = gate(text, r.answer, input.gate);
      return { answer: v.answer, full: v.pass, reasons: v.reasons };
    };
    const rows = recs.map((r, i) => {
      const g = greedy[i];
      const samples = sampled.slice(i * input.samples, (i + 1) * input.samples);
      return {
        id: r.id,
        reference: r.answer,
        greedy: { text: g.text, finishReason: g.finishReason, ...verdict(g.text, r) },
        samples: samples.map((s) => ({ text: s.text, finishReason: s.finishReason, ...verdict(s.text, r) })),
      };
    });
    // the chosen rewrite of a record: its greedy one when it passes (what Generate-Verify-Fallback keeps)
    const chosen = rows.filter((r) => r.greedy.full);
    const scores = chosen.length
      ? await backboneScores(
          p.scorer,
          p.tokenizer,
          chosen.map((r) => ({ question: recs.find((x) => x.id === r.id)!.question, text: r.greedy.text })),
          { qaPrompt: input.qaPrompt ?? QA_TEMPLATE, batchSize: SCORE_BATCH },
        )
      : undefined;
    // the own-style oracle beside each record (the world's slice has it): the NLL the rewrites aim at
    const oracles = recs.map((r) => (r as RewriteRecord & { oracle?: unknown }).oracle);
    const oracle = oracles.every((o): o is string => typeof o === 'string')
      ? await backboneScores(
          p.scorer,
          p.tokenizer,
          recs.map((r, i) => ({ question: r.question, text: oracles[i] as string })),
          { qaPrompt: input.qaPrompt ?? QA_TEMPLATE, batchSize: SCORE_BATCH },
        )
      : undefined;
    await write('validation.jsonl', rows);
    const share = (f: (r: (typeof rows)[number]) => boolean) => rows.filter(f).length / rows.length;
    const emb = scores?.embeddings.map((e) => l2Normalize(e)) ?? [];
    return {
      uri: `${ref}/validation.jsonl`,
      step: input.step,
      records: rows.length,
      greedyFullPassRate: share((r) => r.greedy.full),
      greedyAnswerPassRate: share((r) => r.greedy.answer),
      kFullPassRate: share((r) => r.samples.some((s) => s.full)),
      kAnswerPassRate: share((r) => r.samples.some((s) => s.answer)),
      meanNll: scores ? scores.nll.reduce((s, x) => s + x, 0) / scores.nll.length : null,
      diversity: meanPairwiseDistance(
        emb,
        emb.map((_, i) => i),
      ),
      copyRate: share((r) => isCopy(r.greedy.text, r.reference)),
      oracleNll: oracle ? oracle.nll.reduce((s, x) => s + x, 0) / oracle.nll.length : null,
    };
  });
}
