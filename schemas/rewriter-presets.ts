// The presets of trainRewriter: what a field left out of its input takes. 'paper' is the released
// configuration for 7B models (METHOD.md); 'world' is the embedded default's, set from the pilot's
// measurements (README, "The RL rewriter"); 'test' is the toy recipe's, for tests in seconds.
// Pure data, so workflows can import it.
import type { GateConfig, RolloutInput, TrainRewriterInput } from './generated/types';

/** Every tunable field, resolved. */
export interface RewriterSettings {
  /** Unset: the activities' default for the preset (method/prompts.ts). */
  rewritePrompt?: string;
  qaPrompt?: string;
  gate: GateConfig;
  groupSize: number;
  promptsPerStep: number;
  steps: number;
  lambdaDist: number;
  lambdaDiv: number;
  gateInReward: boolean;
  skipTiedGroups: boolean;
  learningRate: number;
  weightDecay: number;
  klCoef: number;
  clip: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  lora: RolloutInput['lora'];
  validation: { every: number; samples: number; limit?: number };
  keepEvery: number;
  heartbeatTimeout: string;
}

const ALL_LINEAR: RolloutInput['lora']['targetModules'] = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
];

export const REWRITER_PRESETS: Record<'paper' | 'world' | 'test', RewriterSettings> = {
  paper: {
    gate: { extractor: { kind: 'boxed', choices: 'ABCDE' }, checks: ['answer'] },
    groupSize: 5,
    promptsPerStep: 504,
    steps: 100,
    lambdaDist: 0.35,
    lambdaDiv: 0.5,
    gateInReward: true,
    skipTiedGroups: false,
    learningRate: 3e-6,
    weightDecay: 0.01,
    klCoef: 0.001,
    clip: 0.2,
    temperature: 1,
    topP: 1,
    maxNewTokens: 1024,
    lora: { rank: 64, alpha: 32, targetModules: ALL_LINEAR },
    validation: { every: 10, samples: 4 },
    keepEvery: 10,
    heartbeatTimeout: '5 minutes',
  },
  world: {
    gate: { extractor: { kind: 'boxed', choices: 'ABCDE' }, checks: ['answer', 'steps'] },
    groupSize: 16,
    promptsPerStep: 16,
    steps: 40,
    lambdaDist: 0.35,
    lambdaDiv: 0.5,
    gateInReward: true,
    skipTiedGroups: true,
    learningRate: 2e-3,
    weightDecay: 0.01,
    klCoef: 0.001,
    clip: 0.2,
    temperature: 1.5,
    topP: 1,
    maxNewTokens: 96,
    lora: { rank: 16, alpha: 32, targetModules: ALL_LINEAR },
    validation: { every: 5, samples: 4, limit: 200 },
    keepEvery: 10,
    heartbeatTimeout: '60 seconds',
  },
  test: {
    gate: { extractor: { kind: 'boxed', choices: 'ABCDE' }, checks: ['answer', 'steps'] },
    groupSize: 3,
    promptsPerStep: 2,
    steps: 3,
    lambdaDist: 0.35,
    lambdaDiv: 0.5,
    gateInReward: true,
    skipTiedGroups: false,
    learningRate: 1e-3,
    weightDecay: 0.01,
    klCoef: 0.001,
    clip: 0.2,
    temperature: 0.8,
    topP: 1,
    maxNewTokens: 24,
    lora: { rank: 2, alpha: 4, targetModules: ALL_LINEAR },
    validation: { every: 2, samples: 2, limit: 8 },
    keepEvery: 2,
    heartbeatTimeout: '30 seconds',
  },
};

/** The preset's values under the fields the input sets. */
export function resolveRewriterSettings(input: TrainRewriterInput): RewriterSettings {
  const p = REWRITER_PRESETS[input.preset];
  const pick = <K extends keyof RewriterSettings>(k: K): RewriterSettings[K] =>
    ((input as Record<string, unknown>)[k] ?? p[k]) as RewriterSettings[K];
  return {
    rewritePrompt: pick('rewritePrompt'),
    qaPrompt: pick('qaPrompt'),
    gate: { ...p.gate, ...input.gate },
    groupSize: pick('groupSize'),
    promptsPerStep: pick('promptsPerStep'),
    steps: pick('steps'),
    lambdaDist: pick('lambdaDist'),
    lambdaDiv: pick('lambdaDiv'),
    gateInReward: pick('gateInReward'),
    skipTiedGroups: pick('skipTiedGroups'),
    learningRate: pick('learningRate'),
    weightDecay: pick('weightDecay'),
    klCoef: pick('klCoef'),
    clip: pick('clip'),
    temperature: pick('temperature'),
    topP: pick('topP'),
    maxNewTokens: pick('maxNewTokens'),
    lora: { ...p.lora, ...input.lora },
    validation: { ...p.validation, ...input.validation },
    keepEvery: pick('keepEvery'),
    heartbeatTimeout: pick('heartbeatTimeout'),
  };
}
