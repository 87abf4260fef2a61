import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  schemas,
  type ModelRef,
  type RewriterAdjust,
  type TrainRewriterInputInput,
  type TrainRewriterOutput,
  type TrainRewriterProgress,
  type ValidateRewriterOutput,
} from '../schemas/workflow';
import { resolveRewriterSettings, type RewriterSettings } from '../schemas/rewriter-presets';
import { METRIC, STAGE, STEP } from './search-attributes';
import { cpuActivities, deviceActivities, pretrainChild } from './stages';
import { invalidInput, validateInput } from './validate';

// the output's type comes from its schema (schemas/json); exported here beside the code that makes it
export type { TrainRewriterOutput };

/** Where a run stands: what continue-as-new carries into the next run of the workflow. */
export interface RewriterCarry {
  run: string;
  pool: string;
  poolSize: number;
  validation: string;
  backbone: ModelRef;
  settings: RewriterSettings;
  /** The last finished step (0 before the first). */
  step: number;
  /** The adapter after `step` (absent at step 0: the seed's initial adapter). */
  adapter?: string;
  paused: boolean;
  best?: TrainRewriterOutput['best'];
  validations: ValidateRewriterOutput[];
  /** Adjustments made so far, with the step they apply from. */
  adjustments: TrainRewriterOutput['adjustments'];
  last?: Record<string, unknown>;
  /** Workflow time when the first step began, and wall time spent in steps (for the ETA). */
  startedAt?: number;
  stepMs: number;
  stepsTimed: number;
}

export type { TrainRewriterProgress };

export const progressQuery = defineQuery<TrainRewriterProgress>('progress');
export const adjustUpdate = defineUpdate<RewriterSettings, [RewriterAdjust]>('adjust');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

const cpu = cpuActivities('world');

/**
 * The GRPO loop of the rewriting policy: each step is rollout (device) -> judge (device, only when
 * the gate turns the judge on) -> gate (CPU) -> reward (device) -> update (device), the metrics line
 * of the step, and a validation every N steps on a slice no RL prompt comes from (the best
 * checkpoint is chosen there). Steerable while it runs: query `progress`, update `adjust`, signals
 * `pause` and `resume`; it continues as new when the server suggests it, carrying where it stands.
 */
export async function trainRewriter(input: TrainRewriterInputInput): Promise<TrainRewriterOutput> {
  const resolved = validateInput(schemas.trainRewriterInput, input, 'trainRewriter');
  // each activity is one step's stage: 'training' retries a dead worker's stage from what it wrote
  const device = deviceActivities(resolved.device, 'training', {
    heartbeatTimeout: resolveRewriterSettings(resolved).heartbeatTimeout,
  });
  let stage = 'setup';
  const c: RewriterCarry = (resolved.carry as RewriterCarry | undefined) ?? (await setup());

  async function setup(): Promise<RewriterCarry> {
    const settings = resolveRewriterSettings(resolved);
    let backbone = resolved.backbone;
    let dataset = resolved.dataset;
    let validation = resolved.validation?.dataset;
    if (!backbone || !dataset) {
      upsertSearchAttributes([{ key: STAGE, value: 'pretrain' }]);
      const world = await pretrainChild(workflowInfo().workflowId, {
        recipe: resolved.recipe,
        device: resolved.device,
        ...(resolved.seed !== undefined ? { seed: resolved.seed } : {}),
      });
      backbone ??= world.backbone;
      dataset ??= world.world.train.foreign;
      validation ??= (world.world as { validation?: string }).validation;
    }
    if (!dataset)
      throw invalidInput('trainRewriter', [{ path: '$.dataset', rule: 'required', message: 'no dataset to rewrite' }]);
    const plan = await cpu.prepareRewriterRun({
      name: resolved.name,
      config: { settings, rlSeed: resolved.rlSeed, preset: resolved.preset },
      backbone,
      dataset,
      ...(validation ? { validation } : {}),
      validationSize: settings.validation.limit ?? 200,
    });
    return {
      run: plan.run,
      pool: plan.pool,
      poolSize: plan.poolSize,
      validation: plan.validation,
      backbone,
      settings,
      step: 0,
      paused: false,
      validations: [],
      adjustments: [],
      stepMs: 0,
      stepsTimed: 0,
    };
  }

  setHandler(progressQuery, () => ({
    stage,
    step: c.step,
    of: c.settings.steps,
    paused: c.paused,
    last: c.last,
    best: c.best,
    etaSeconds: c.stepsTimed ? Math.round(((c.settings.steps - c.step) * c.stepMs) / c.stepsTimed / 1000) : undefined,
    settings: c.settings,
  }));
  /** The step whose activities are running (its settings were taken when it began). */
  let inFlight: number | undefined;
  setHandler(
    adjustUpdate,
    (values) => {
      c.settings = { ...c.settings, ...values };
      // an adjustment during a step applies from the one after it, and is recorded so
      const fromStep = patched('adjust-after-step-in-flight') ? (inFlight ?? c.step) + 1 : c.step + 1;
      c.adjustments.push({ fromStep, values });
      return c.settings;
    },
    {
      validator: (values) => {
        const r = schemas.rewriterAdjust.check(values);
        if (!r.ok) throw invalidInput('adjust', r.issues);
      },
    },
  );
  setHandler(pauseSignal, () => void (c.paused = true));
  setHandler(resumeSignal, () => void (c.paused = false));

  const s = () => c.settings;
  const policy = () => ({
    run: c.run,
    backbone: c.backbone,
    lora: s().lora,
    seed: resolved.rlSeed,
    ...(c.adapter ? { adapter: c.adapter } : {}),
  });
  const prompts = () => ({
    ...(s().rewritePrompt ? { rewritePrompt: s().rewritePrompt } : {}),
  });

  async function validate(step: number): Promise<void> {
    stage = 'validate';
    const v = await device.validateRewriter({
      ...policy(),
      step,
      dataset: c.validation,
      samples: s().validation.samples,
      temperature: s().temperature,
      topP: s().topP,
      maxNewTokens: s().maxNewTokens,
      gate: s().gate,
      ...prompts(),
      ...(s().qaPrompt ? { qaPrompt: s().qaPrompt } : {}),
      ...(s().validation.limit ? { limit: s().validation.limit } : {}),
    });
    c.validations.push({ ...v, step });
    const better =
      !c.best ||
      v.greedyFullPassRate > c.best.greedyFullPassRate ||
      (v.greedyFullPassRate === c.best.greedyFullPassRate && (v.meanNll ?? Infinity) < (c.best.meanNll ?? Infinity));
    if (better)
      c.best = {
        step,
        ...(c.adapter ? { adapter: c.adapter } : {}),
        greedyFullPassRate: v.greedyFullPassRate,
        meanNll: v.meanNll,
      };
  }

  if (c.step === 0 && c.validations.length === 0) await validate(0);
  let stepsThisRun = 0;
  while (c.step < s().steps) {
    if (c.paused) {
      stage = 'paused';
      upsertSearchAttributes([{ key: STAGE, value: 'paused' }]);
      await condition(() => !c.paused);
    }
    if (
      workflowInfo().continueAsNewSuggested ||
      (resolved.continueAsNewEvery !== undefined && stepsThisRun >= resolved.continueAsNewEvery)
    ) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof trainRewriter>({ ...input, carry: c as unknown as Record<string, unknown> });
    }
    const step = c.step + 1;
    inFlight = step;
    const began = Date.now();
    c.startedAt ??= began;
    const t: Record<string, number> = {};
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      stage = name;
      upsertSearchAttributes([
        { key: STAGE, value: name },
        { key: STEP, value: step },
      ]);
      const t0 = Date.now();
      const r = await f();
      t[name] = Date.now() - t0;
      return r;
    };
    const cfg = { ...s() };
    const roll = await timed('rollout', () =>
      device.rollout({
        ...policy(),
        step,
        dataset: c.pool,
        promptsPerStep: cfg.promptsPerStep,
        groupSize: cfg.groupSize,
        temperature: cfg.temperature,
        topP: cfg.topP,
        maxNewTokens: cfg.maxNewTokens,
        ...prompts(),
      }),
    );
    // with the judge on, pi_0 is asked YES/NO about each rewrite (a device stage) before the CPU gate reads it
    const judged =
      cfg.gate.checks?.includes('judge') && patched('gate-judge-stage')
        ? await timed('judge', () =>
            device.judge({
              run: c.run,
              step,
              backbone: c.backbone,
              lora: cfg.lora,
              rollouts: roll.uri,
              gate: cfg.gate,
            }),
          )
        : undefined;
    const gate = await timed('gate', () =>
      cpu.gate({
        run: c.run,
        step,
        rollouts: roll.uri,
        gate: cfg.gate,
        ...(judged ? { judgments: judged.uri } : {}),
      }),
    );
    const rw = await timed('reward', () =>
      device.reward({
        run: c.run,
        step,
        backbone: c.backbone,
        lora: cfg.lora,
        rollouts: roll.uri,
        verdicts: gate.uri,
        lambdaDist: cfg.lambdaDist,
        lambdaDiv: cfg.lambdaDiv,
        gateInReward: cfg.gateInReward,
        ...(cfg.qaPrompt ? { qaPrompt: cfg.qaPrompt } : {}),
      }),
    );
    const up = await timed('update', () =>
      device.update({
        ...policy(),
        step,
        rollouts: roll.uri,
        rewards: rw.uri,
        learningRate: cfg.learningRate,
        weightDecay: cfg.weightDecay,
        klCoef: cfg.klCoef,
        clip: cfg.clip,
        temperature: cfg.temperature,
        skipTiedGroups: cfg.skipTiedGroups,
        ...(resolved.faults?.nonFiniteAtStep === step ? { injectNonFinite: true } : {}),
      }),
    );
    c.adapter = up.adapter;
    c.step = step;
    const metrics: Record<string, unknown> = {
      step,
      ...pick(roll, ['prompts', 'rollouts', 'meanLength', 'truncationRate', 'entropy']),
      ...pick(gate, ['answerPassRate', 'fullPassRate', 'copyRate', 'editDistance', 'judgePassRate']),
      ...pick(rw, [
        'rewardMean',
        'rewardStd',
        'gateMean',
        'distMean',
        'divMean',
        'feasibleNll',
        'diversity',
        'allEqualGroups',
      ]),
      ...pick(up, ['loss', 'kl', 'clipFraction', 'gradNorm', 'logprobGap', 'tokens']),
      settings: pick(cfg, ['learningRate', 'lambdaDist', 'lambdaDiv', 'temperature', 'klCoef']),
    };
    if (step % s().validation.every === 0 || step === s().steps) {
      await timed('validate', () => validate(step));
      metrics.val = pick(c.validations[c.validations.length - 1], [
        'greedyFullPassRate',
        'greedyAnswerPassRate',
        'kFullPassRate',
        'kAnswerPassRate',
        'meanNll',
        'diversity',
        'copyRate',
      ]);
    }
    const activityMs = { rollout: roll.ms, ...(judged ? { judge: judged.ms } : {}), reward: rw.ms, update: up.ms };
    t.total = Date.now() - began;
    await cpu.recordStep({ run: c.run, step, metrics, timings: { step, ...t, ...prefixed('activity.', activityMs) } });
    inFlight = undefined;
    c.last = metrics;
    c.stepMs += t.total;
    c.stepsTimed++;
    stepsThisRun++;
    upsertSearchAttributes([{ key: METRIC, value: gate.fullPassRate }]);
  }

  stage = 'finish';
  const best = c.best ?? { step: c.step, adapter: c.adapter, greedyFullPassRate: 0, meanNll: null };
  const fin = await cpu.finishRewriterRun({
    run: c.run,
    keep: [best.step, c.step],
    keepEvery: s().keepEvery,
  });
  upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
  stage = 'done';
  if (!c.adapter && c.step > 0) throw ApplicationFailure.nonRetryable('trainRewriter finished without an adapter');
  return {
    run: c.run,
    steps: c.step,
    best,
    last: { step: c.step, ...(c.adapter ? { adapter: c.adapter } : {}) },
    validations: c.validations,
    adjustments: c.adjustments,
    metrics: fin.metrics,
    timings: fin.timings,
    curves: fin.curves,
    backbone: c.backbone,
  };
}

function pick<T extends object>(o: T, keys: string[]): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  for (const k of keys) if (k in o) r[k] = (o as Record<string, unknown>)[k];
  return r;
}

function prefixed(p: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [p + k, v]));
}
