// The pipeline's arms as data (pure, so the workflow and the CLI share them): which names exist, which
// trainRewriter run each needs, what the ablations change, and what the report must say about an arm.
import type { PipelineConfig } from '../schemas/workflow';

export type ArmName = NonNullable<PipelineConfig['arms']>[number];

/** 'foreign' was vanilla SFT's name before the pipeline (worldForgetting, .ci/run): it still works. */
export const ARM_ALIASES: Partial<Record<ArmName, ArmName>> = { foreign: 'vanilla' };

export const DEFAULT_ARMS: ArmName[] = ['vanilla', 'prompted', 'sdft', 'self-alignment', 'rl'];

/**
 * The world's oracle mixtures run by default: the shares a fallback leaves (a few percent of foreign
 * answers), so vanilla (0% oracle), these and the oracle (100%) draw the dose-response line.
 */
export const DOSE_RESPONSE_ARMS: ArmName[] = ['oracle-90', 'oracle-95'];

/** Arms that exist only in the embedded world: its own-style training set and its mixtures. */
export const isWorldOnly = (arm: string) => /^oracle(-\d+)?$/.test(arm);

/** The share of own-style (oracle) answers in a world arm's data: vanilla 0, oracle-NN NN%, oracle 1; else undefined. */
export function oracleShare(arm: ArmName): number | undefined {
  if (arm === 'vanilla' || arm === 'foreign') return 0;
  if (arm === 'oracle') return 1;
  const m = /^oracle-(\d+)$/.exec(arm);
  return m ? Number(m[1]) / 100 : undefined;
}

/** What each ablation's trainRewriter run changes in the rewriter config. */
export const ABLATIONS = {
  'rl-no-dist': { lambdaDist: 0 },
  'rl-no-div': { lambdaDiv: 0 },
  'rl-no-gate': { gateInReward: false },
} as const;

export type RewriterArm = 'rl' | keyof typeof ABLATIONS;

/** The trainRewriter run an arm's data comes from (prompted-matched needs rl's sample count). */
export function rewriterOf(arm: ArmName): RewriterArm | undefined {
  if (arm === 'rl' || arm === 'prompted-matched') return 'rl';
  return arm in ABLATIONS ? (arm as RewriterArm) : undefined;
}

/**
 * The compute-matched k: as many samples per record as RL spent, its training rollouts spread over the
 * downstream records plus its own Generate-Verify-Fallback k, at most `cap`.
 */
export function matchedK(o: { rollouts: number; records: number; k: number; cap: number }): number {
  return Math.min(o.cap, Math.ceil(o.rollouts / Math.max(1, o.records)) + o.k);
}

/** What the report says about an arm beyond its numbers. */
export function armNote(arm: ArmName, world: boolean): string | undefined {
  switch (arm) {
    case 'sdft':
      return world
        ? "uses the world's rewriting prompt (its backbone knows no other), so it equals prompted at k = 1 plus the give-away filter"
        : 'one prompted sample, kept iff the gate passes and it holds no give-away phrase';
    case 'self-alignment':
      return "Mind the Gap's importance weighting is left out by design: the arms differ only in their data";
    case 'rl-no-div':
      return world
        ? 'in the world the own style is one deterministic rendering, so the diversity reward can only pay for leaving it; without it the rewriter is not pushed away from the own style'
        : undefined;
    default:
      return undefined;
  }
}

/**
 * The arms asked for, aliases resolved, in the order given; undefined: the defaults (in the world with
 * the oracle and, unless `doseResponse` is false, the DOSE_RESPONSE_ARMS).
 */
export function resolveArms(arms: ArmName[] | undefined, world: boolean, doseResponse = true): ArmName[] {
  const worldArms: ArmName[] = ['oracle', ...(doseResponse ? DOSE_RESPONSE_ARMS : [])];
  const list = arms ?? (world ? [...DEFAULT_ARMS, ...worldArms] : DEFAULT_ARMS);
  return [...new Set(list.map((a) => ARM_ALIASES[a] ?? a))];
}
