// The rewriting policy's device activities: rollout, reward, update and validation of one GRPO step.
// Each is a content-addressed stage (activities/rewriter-stage.ts) in the step's folder: keyed by the
// content of the backbone, the adapter and the data it reads, written atomically, and a complete
// output is returned as is, so a retried activity redoes nothing that finished. The policy is the
// device session's unmerged LoRA policy (DeviceSession.policy): generate, score and GRPO train programs
// compiled once, the adapter runner state, replaced each step without a recompile and switched off
// (scale 0) for the frozen backbone's scores.
import { join } from 'node:path';
import { initLoraWeights, loraConfig, savePeftAdapter, type LoraConfig } from '../../engine/lora';
import { loadTrainerState, saveTrainerState } from '../../engine/trainer-state';
import { gate, type JudgeVerdict } from '../../method/gate';
import { isCopy, promptsForStep } from '../../method/rollout-stats';
import { JUDGE_PROMPT, QA_TEMPLATE, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import { groupRewards, grpoAdvantages, l2Normalize, meanPairwiseDistance } from '../../method/rewards';
import type {
  JudgeInput,
  JudgeOutput,
  RewardInput,
  RewardOutput,
  RolloutInput,
  RolloutOutput,
  UpdateInput,
  UpdateOutput,
  ValidateRewriterInput,
  ValidateRewriterOutput,
} from '../../schemas';
import { backboneScores } from '../../training/backbone-scores';
import { judgeCandidates } from '../../training/judge';
import { grpoUpdate, rewritePromptTokens, sampleRollouts, type RewriteRecord, type Rollout } from '../../training/grpo';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { InputError, TrainingDivergedError } from '../errors';
import { dataInput, readRecords, type DataInput } from '../records';
import { stage } from '../stage';
import { stageRows, stepDir, stepStage } from '../rewriter-stage';
import { JUDGE_BATCH, judgeWith, type StoredJudgment } from './judge';
import type { DeviceSession, Policy } from './session';

/** A rollout as stored: the record's question and reference beside the sample, so later stages need no join. */
export interface StoredRollout extends Rollout {
  question: string;
  reference: string;
  /** The rewrite prompt's tokens, as sampled from (the update trains on exactly these). */
  prompt: number[];
}

const GEN_BATCH = 64;
const SCORE_BATCH = 64;

const records = (data: DataInput): Promise<RewriteRecord[]> =>
  readRecords(data, ['id', 'question', 'answer'], { nonEmpty: true });

const loraOf = (l: RolloutInput['lora']): LoraConfig =>
  loraConfig({ rank: l.rank, alpha: l.alpha, targetModules: l.targetModules });

/** The backbone's policy with this LoRA shape, and the backbone's content key (for stage keys). */
async function policyOf(store: ArtifactStore, session: DeviceSession, input: Pick<RolloutInput, 'backbone' | 'lora'>) {
  // the policy is the bare backbone plus the adapter it trains; a merged adapter is not its base
  const backbone = { uri: input.backbone.uri };
  const policy = await session.policy(store, backbone, loraOf(input.lora));
  return { policy, backboneKey: policy.loaded.key };
}

/** The seed's initial adapter's key: not a content hash (nothing is stored), but unique to seed and shape. */
const initKey = (lora: RolloutInput['lora'], seed: number) =>
  `init:${seed}:${sha256(canonicalJson(lora)).slice(0, 12)}`;

/** What the adapter of a step is, for stage keys: its content key, or the seed's initial one. */
async function adapterId(
  session: DeviceSession,
  store: ArtifactStore,
  input: { adapter?: string; lora: RolloutInput['lora']; seed: number },
): Promise<string> {
  return input.adapter ? session.adapterKey(store, input.adapter) : initKey(input.lora, input.seed);
}

/** Makes `adapter` (or the seed's initial adapter) the one in the runner, unless it already is. */
async function useAdapter(
  store: ArtifactStore,
  policy: Policy,
  input: { adapter?: string; lora: RolloutInput['lora']; seed: number },
): Promise<void> {
  if (input.adapter) {
    await policy.useAdapter(store, input.adapter);
    return;
  }
  const key = initKey(input.lora, input.seed);
  if (policy.adapterKey() !== key)
    await policy.setAdapter(initLoraWeights(policy.loaded.model.config, policy.lora, input.seed), key);
}

export async function rollout(
  store: ArtifactStore,
  session: DeviceSession,
  input: RolloutInput,
  progress: Progress,
): Promise<RolloutOutput> {
  const data = await dataInput(store, input.dataset);
  const { policy, backboneKey } = await policyOf(store, session, input);
  const prompt = input.rewritePrompt ?? WORLD_REWRITE_PROMPT;
  const sampling = {
    promptsPerStep: input.promptsPerStep,
    groupSize: input.groupSize,
    temperature: input.temperature,
    topP: input.topP,
    maxNewTokens: input.maxNewTokens,
    rewritePrompt: prompt,
  };
  const spec = {
    run: input.run,
    step: input.step,
    name: 'rollouts',
    kind: 'rewriter-rollouts',
    key: {
      backbone: backboneKey,
      adapter: await adapterId(session, store, input),
      lora: input.lora,
      data: data.sha256,
      seed: input.seed,
      step: input.step,
      ...sampling,
    },
    seeds: { sampling: input.seed },
    inputs: [{ uri: input.dataset, sha256: data.sha256 }],
  };
  return stepStage(store, spec, 'rollouts.jsonl', async (write) => {
    const t0 = Date.now();
    const pool = await records(data);
    await useAdapter(store, policy, input);
    const tokenizer = policy.loaded.model.tokenizer!;
    // a step crossing an epoch boundary may draw a record twice: once is enough (groups are per record)
    const chosen = [...new Set(promptsForStep(pool.length, input.promptsPerStep, input.seed, input.step - 1))].map(
      (i) => pool[i],
    );
    const out = await sampleRollouts(
      policy.generator,
      tokenizer,
      chosen,
      { ...sampling, seed: input.seed, step: input.step, batchSize: GEN_BATCH },
      (done, of) => progress.heartbeat({ stage: 'rollout', step: input.step, done, of }),
    );
    const byId = new Map(chosen.map((r) => [r.id, r]));
    const rows: StoredRollout[] = out.map((r) => {
      const rec = byId.get(r.recordId)!;
      return {
        ...r,
        question: rec.question,
        reference: rec.answer,
        prompt: rewritePromptTokens(tokenizer, prompt, rec),
      };
    });
    await write(rows);
    const tokens = out.reduce((s, r) => s + r.tokens.length, 0);
    return {
      prompts: chosen.length,
      rollouts: out.length,
      meanLength: tokens / out.length,
      truncationRate: out.filter((r) => r.finishReason === 'length').length / out.length,
      entropy: -out.reduce((s, r) => s + r.logprobs.reduce((a, b) => a + b, 0), 0) / Math.max(1, tokens),
      ms: Date.now() - t0,
    };
  });
}

/**
 * The judge stage of a step (when the gate turns the judge on): pi_0 asked YES/NO about each rollout,
 * on the policy's score program with the adapter off (no second program), one forward per rollout.
 */
export async function judge(
  store: ArtifactStore,
  session: DeviceSession,
  input: JudgeInput,
  progress: Progress,
): Promise<JudgeOutput> {
  const rollouts = await stageRows<StoredRollout>(store, input.rollouts, 'rollouts');
  const { policy, backboneKey } = await policyOf(store, session, input);
  const prompt = input.gate.judgePrompt ?? JUDGE_PROMPT;
  const spec = {
    run: input.run,
    step: input.step,
    name: 'judge',
    kind: 'rewriter-judgments',
    key: { backbone: backboneKey, rollouts: rollouts.input.sha256, prompt },
    inputs: [{ uri: rollouts.input.uri, sha256: rollouts.input.sha256 }],
  };
  return stepStage(store, spec, 'judgments.jsonl', async (write) => {
    const t0 = Date.now();
    const rows = await rollouts.read();
    // the adapter is off (scale 0), but the program still reads its tensors: any adapter will do
    if (policy.adapterKey() === undefined) await useAdapter(store, policy, { lora: input.lora, seed: 0 });
    const verdicts = await judgeCandidates(
      policy.scorer,
      policy.loaded.model.tokenizer!,
      rows.map((r) => ({ question: r.question, reference: r.reference, candidate: r.text })),
      { prompt, batchSize: JUDGE_BATCH },
      (done, of) => progress.heartbeat({ stage: 'judge', step: input.step, done, of }),
    );
    const out: StoredJudgment[] = rows.map((r, i) => ({ recordId: r.recordId, sample: r.sample, ...verdicts[i] }));
    await write(out);
    return {
      judgments: out.length,
      judgePassRate: out.length ? out.filter((j) => j.pass).length / out.length : 0,
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
  const rollouts = await stageRows<StoredRollout>(store, input.rollouts, 'rollouts');
  const verdictRows = await stageRows<StoredVerdict>(store, input.verdicts, 'verdicts');
  const { policy, backboneKey } = await policyOf(store, session, input);
  const qaPrompt = input.qaPrompt ?? QA_TEMPLATE;
  const spec = {
    run: input.run,
    step: input.step,
    name: 'rewards',
    kind: 'rewriter-rewards',
    key: {
      backbone: backboneKey,
      lora: input.lora,
      rollouts: rollouts.input.sha256,
      verdicts: verdictRows.input.sha256,
      qaPrompt,
      lambdaDist: input.lambdaDist,
      lambdaDiv: input.lambdaDiv,
      gateInReward: input.gateInReward,
    },
    inputs: [rollouts.input, verdictRows.input].map((d) => ({ uri: d.uri, sha256: d.sha256 })),
  };
  return stepStage(store, spec, 'rewards.jsonl', async (write) => {
    const t0 = Date.now();
    const rows = await rollouts.read();
    const verdicts = await verdictRows.read();
    if (verdicts.length !== rows.length)
      throw new InputError(`${input.verdicts}: ${verdicts.length} verdicts for ${rows.length} rollouts`);
    // the adapter is off (scale 0), but the program still reads its tensors: any adapter will do
    if (policy.adapterKey() === undefined) await useAdapter(store, policy, { lora: input.lora, seed: 0 });
    const scores = await backboneScores(
      policy.scorer,
      policy.loaded.model.tokenizer!,
      rows.map((r) => ({ question: r.question, text: r.text })),
      { qaPrompt, batchSize: SCORE_BATCH, embeddings: true },
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
    await write(out);
    const mean = (f: (r: StoredReward) => number, rs = out) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    const rm = mean((r) => r.reward);
    const feasible = out.filter((r) => r.gate === 1);
    return {
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
  const rollouts = await stageRows<StoredRollout>(store, input.rollouts, 'rollouts');
  const rewardRows = await stageRows<StoredReward>(store, input.rewards, 'rewards');
  const { policy, backboneKey } = await policyOf(store, session, input);
  const trainerState = (adapter: string) => join(store.resolve(adapter), 'trainer-state.safetensors');
  const { run: _run, step, backbone: _b, adapter: _a, rollouts: _r, rewards: _w, ...settings } = input;
  const spec = {
    run: input.run,
    step,
    name: 'adapter',
    kind: 'rewriter-adapter',
    key: {
      backbone: backboneKey,
      // the update continues from the adapter and its AdamW moments
      adapter: await adapterId(session, store, input),
      optimizer: input.adapter ? await sha256File(trainerState(input.adapter)) : null,
      rollouts: rollouts.input.sha256,
      rewards: rewardRows.input.sha256,
      step,
      ...settings,
    },
    seeds: { init: input.seed },
    inputs: [rollouts.input, rewardRows.input].map((d) => ({ uri: d.uri, sha256: d.sha256 })),
  };
  const out = await stage(store, { ...spec, dir: stepDir(input.run, step) }, async ({ tmp }) => {
    const t0 = Date.now();
    const rows = await rollouts.read();
    const rewards = await rewardRows.read();
    const lora = loraOf(input.lora);
    const trainer = await policy.trainer({
      objective: 'grpo',
      // each rewrite prompt runs once for its K rewrites (the same step, a fraction of the work)
      grpo: { clip: input.clip, klCoef: input.klCoef, temperature: input.temperature, sharedPrompts: true },
      optimizer: { weightDecay: input.weightDecay },
      accumulate: input.microBatch !== undefined,
      // one optimizer step per GRPO step: the Loop-free program
      singleStep: true,
    });
    progress.heartbeat({ stage: 'update', step });
    // the state is read back every step (it is small next to the step): what a resumed run does
    if (input.adapter) await trainer.restoreState((await loadTrainerState(trainerState(input.adapter))).tensors);
    else await trainer.init(initLoraWeights(policy.loaded.model.config, lora, input.seed));
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
      ? await grpoUpdate(trainer, policy.scorer, examples, {
          learningRate: input.learningRate,
          temperature: input.temperature,
          scoreBatch: SCORE_BATCH,
          microBatch: input.microBatch,
        })
      : { loss: 0, kl: 0, clipFraction: 0, gradNorm: 0, logprobGap: 0, tokens: 0 };
    if (![m.loss, m.gradNorm, m.kl].every(Number.isFinite))
      throw new TrainingDivergedError(
        `update of step ${step}: the loss or gradient is not finite (loss ${m.loss}, gradient norm ${m.gradNorm}); ` +
          `the last good checkpoint is ${input.adapter ?? 'the initial adapter'}`,
      );
    // PEFT loads the base from adapter_config.json: a folder it can open, not the store's URI (the
    // stage's manifest keeps the URI)
    await savePeftAdapter(tmp, policy.loaded.model.config, lora, await trainer.params(), {
      baseModel: store.resolve(input.backbone.uri),
    });
    await saveTrainerState(join(tmp, 'trainer-state.safetensors'), {
      tensors: await trainer.stateTensors(),
      dataPosition: { epoch: 0, index: 0 },
      rng: [],
      meta: { step: String(step) },
    });
    return { ...m, ms: Date.now() - t0 };
  });
  // the runner holds what was just saved: the next rollout needs no load
  if (!out.reused) policy.markAdapter(await session.adapterKey(store, out.uri));
  const { uri, ...summary } = out;
  return { adapter: uri, ...summary };
}

export async function validateRewriter(
  store: ArtifactStore,
  session: DeviceSession,
  input: ValidateRewriterInput,
  progress: Progress,
): Promise<ValidateRewriterOutput> {
  const data = await dataInput(store, input.dataset, 'validation');
  const { policy, backboneKey } = await policyOf(store, session, input);
  const { run: _run, backbone: _b, adapter: _a, dataset: _d, ...settings } = input;
  const spec = {
    run: input.run,
    step: input.step,
    name: 'validation',
    kind: 'rewriter-validation',
    key: { backbone: backboneKey, adapter: await adapterId(session, store, input), data: data.sha256, ...settings },
    seeds: { sampling: input.seed },
    inputs: [{ uri: input.dataset, sha256: data.sha256 }],
  };
  return stepStage(store, spec, 'validation.jsonl', async (write) => {
    const all = await records(data);
    const recs = input.limit ? all.slice(0, input.limit) : all;
    await useAdapter(store, policy, input);
    const p = { generator: policy.generator, scorer: policy.scorer, tokenizer: policy.loaded.model.tokenizer! };
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
    // the judge (when the gate turns it on) reads every greedy and sampled rewrite, adapter off
    const judged = await judgeWith(
      p.scorer,
      p.tokenizer,
      input.gate,
      [...greedy, ...sampled].map((g, j) => {
        const r = recs[j < recs.length ? j : Math.floor((j - recs.length) / input.samples)];
        return { question: r.question, reference: r.answer, candidate: g.text };
      }),
      progress,
    );
    const verdict = (text: string, r: RewriteRecord, j?: JudgeVerdict) => {
      const v = gate(text, r.answer, input.gate, j);
      return { answer: v.answer, full: v.pass, reasons: v.reasons, ...(j ? { judge: j } : {}) };
    };
    const rows = recs.map((r, i) => {
      const g = greedy[i];
      const at = (k: number) => recs.length + i * input.samples + k;
      const samples = sampled.slice(i * input.samples, (i + 1) * input.samples);
      return {
        id: r.id,
        reference: r.answer,
        greedy: { text: g.text, finishReason: g.finishReason, ...verdict(g.text, r, judged?.[i]) },
        samples: samples.map((s, k) => ({
          text: s.text,
          finishReason: s.finishReason,
          ...verdict(s.text, r, judged?.[at(k)]),
        })),
      };
    });
    // the chosen rewrite of a record: its greedy one when it passes (what Generate-Verify-Fallback keeps)
    const chosen = rows.filter((r) => r.greedy.full);
    const scores = chosen.length
      ? await backboneScores(
          p.scorer,
          p.tokenizer,
          chosen.map((r) => ({ question: recs.find((x) => x.id === r.id)!.question, text: r.greedy.text })),
          { qaPrompt: input.qaPrompt ?? QA_TEMPLATE, batchSize: SCORE_BATCH, embeddings: true },
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
    await write(rows);
    const share = (f: (r: (typeof rows)[number]) => boolean) => rows.filter(f).length / rows.length;
    const emb = scores?.embeddings.map((e) => l2Normalize(e)) ?? [];
    return {
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
