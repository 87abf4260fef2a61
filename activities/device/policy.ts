// The rewriting policy on a device session: the backbone's generate, score and GRPO train programs
// compiled once with LoRA inputs on one runner. The adapter is runner state shared by all three (the
// train program updates what generate and score read); `current` says which adapter is loaded, so
// an activity on a restarted worker loads it from the store again.
import type { LoraConfig } from '../../engine/lora';
import type { HFModel } from '../../engine/model';
import { GenerateProgram, ScoreProgram, TrainProgram } from '../../engine/programs';
import type { TextTokenizer } from '../../engine/tokenizer';
import type { ModelRef } from '../../schemas';
import { canonicalJson, sha256, type ArtifactStore } from '../artifact-store';
import type { DeviceSession } from './session';

export interface GrpoTrainOptions {
  learningRate: number;
  weightDecay: number;
  klCoef: number;
  clip: number;
  temperature: number;
  accumulate: boolean;
}

export interface PolicyPrograms {
  model: HFModel;
  tokenizer: TextTokenizer;
  lora: LoraConfig;
  generator: GenerateProgram;
  scorer: ScoreProgram;
  /** Compiled when GRPO options are given (the update); rollout and scoring need none. */
  trainer: TrainProgram | undefined;
  /** The adapter in the runner: its artifact URI or `init:<seed>`, and whether its AdamW moments came with it. */
  current: { id?: string; optimizer: boolean };
}

interface Entry {
  key: string;
  generator: GenerateProgram;
  scorer: ScoreProgram;
  trainers: Map<string, TrainProgram>;
  current: PolicyPrograms['current'];
}

const cache = new WeakMap<DeviceSession, Entry>();

/**
 * The policy programs of `backbone` with a LoRA of shape `lora` (one set per session: a new backbone
 * or LoRA shape replaces it). Without `train`, the trainer of the last options is returned.
 */
export async function policyPrograms(
  store: ArtifactStore,
  session: DeviceSession,
  backbone: ModelRef,
  lora: LoraConfig,
  train?: Omit<GrpoTrainOptions, 'learningRate'> & { learningRate?: number },
): Promise<PolicyPrograms> {
  const loaded = await session.model(store, { uri: backbone.uri });
  const runner = session.runner();
  const key = sha256(canonicalJson({ model: loaded.key, lora })).slice(0, 16);
  let e = cache.get(session);
  if (!e || e.key !== key) {
    if (e) {
      await runner.unload(e.generator.name);
      await runner.unload(e.scorer.name);
      for (const t of e.trainers.values()) await runner.unload(t.name);
    }
    e = {
      key,
      generator: await GenerateProgram.create(runner, loaded.model, { lora, name: `policy-generate-${key}` }),
      scorer: await ScoreProgram.create(runner, loaded.model, { lora, name: `policy-score-${key}` }),
      trainers: new Map(),
      current: { optimizer: false },
    };
    cache.set(session, e);
  }
  let trainer: TrainProgram | undefined;
  if (train) trainer = await trainerFor(e, runner, loaded.model, lora, key, train);
  const entry = e;
  return {
    model: loaded.model,
    tokenizer: loaded.model.tokenizer!,
    lora,
    generator: e.generator,
    scorer: e.scorer,
    trainer,
    get current() {
      return entry.current;
    },
    set current(c) {
      entry.current = c;
    },
  };
}

/** The GRPO train program of these options (the loss constants are compiled in; the learning rate is an input). */
async function trainerFor(
  e: Entry,
  runner: ReturnType<DeviceSession['runner']>,
  model: HFModel,
  lora: LoraConfig,
  key: string,
  opts: Omit<GrpoTrainOptions, 'learningRate'>,
): Promise<TrainProgram> {
  const tkey = sha256(
    canonicalJson({
      wd: opts.weightDecay,
      kl: opts.klCoef,
      clip: opts.clip,
      t: opts.temperature,
      acc: opts.accumulate,
    }),
  ).slice(0, 12);
  let trainer = e.trainers.get(tkey);
  if (!trainer) {
    trainer = await TrainProgram.create(runner, model, {
      objective: 'grpo',
      lora,
      grpo: { clip: opts.clip, klCoef: opts.klCoef, temperature: opts.temperature },
      optimizer: { weightDecay: opts.weightDecay },
      accumulate: opts.accumulate,
      name: `policy-train-${key}-${tkey}`,
    });
    e.trainers.set(tkey, trainer);
  }
  return trainer;
}
