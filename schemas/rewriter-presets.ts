// The presets of trainRewriter: what a field left out of its input takes. 'paper' is the released
// configuration for 7B models (METHOD.md); 'world' is the embedded default's, set from the pilot's
// measurements (README, "The RL rewriter"); 'test' is the toy recipe's, for tests in seconds.
// Pure data, so workflows can import it.
import type { RewriterSettings, RolloutInput, TrainRewriterInput } from './generated/types';

/** Every tunable field, resolved (its type comes from rewriter-settings.schema.json). */
export type { RewriterSettings };

const ALL_LINEAR: RolloutInput['lora']['targetModules'] = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
];

/** The paper's released configuration (METHOD.md): the base every other preset overrides. */
const PAPER: RewriterSettings = {
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
};

/** The embedded world's: the paper's where the pilot found no reason to differ. */
const WORLD: RewriterSettings = {
  ...PAPER,
  // the world's exact stand-in for the judge: every line a step, the reference's steps
  gate: { ...PAPER.gate, checks: ['answer', 'steps'] },
  groupSize: 16,
  promptsPerStep: 16,
  steps: 40,
  skipTiedGroups: true,
  learningRate: 2e-3,
  temperature: 1.5,
  maxNewTokens: 96,
  lora: { ...PAPER.lora, rank: 16 },
  validation: { every: 5, samples: 4, limit: 200 },
  heartbeatTimeout: '60 seconds',
};

/** The toy recipe's, for tests in seconds: the world's gate and rewards on a tiny scale. */
const TEST: RewriterSettings = {
  ...WORLD,
  groupSize: 3,
  promptsPerStep: 2,
  steps: 3,
  skipTiedGroups: false,
  learningRate: 1e-3,
  temperature: 0.8,
  maxNewTokens: 24,
  lora: { ...WORLD.lora, rank: 2, alpha: 4 },
  validation: { every: 2, samples: 2, limit: 8 },
  keepEvery: 2,
  heartbeatTimeout: '30 seconds',
};

export const REWRITER_PRESETS: Record<'paper' | 'world' | 'test', RewriterSettings> = {
  paper: PAPER,
  world: WORLD,
  test: TEST,
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
