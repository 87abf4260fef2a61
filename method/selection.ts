// Building the SFT dataset: Generate -> Verify -> Fallback, and the baselines' keep-or-fallback rules.
import { SDFT_GIVEAWAYS } from './prompts';

export interface Candidate {
  text: string;
  passes: boolean;
  /** Reward for choosing among several feasible candidates (higher is better). */
  score?: number;
}

export interface Selected {
  answer: string;
  rewriteSuccess: boolean;
  numRewriteTrials: number;
  chosen: number | null;
}

/** The best feasible candidate by score (the first on ties); the original answer when none passes. */
export function generateVerifyFallback(original: string, candidates: Candidate[]): Selected {
  let best: number | null = null;
  candidates.forEach((c, i) => {
    if (c.passes && (best === null || (c.score ?? 0) > (candidates[best].score ?? 0))) best = i;
  });
  return {
    answer: best === null ? original : candidates[best].text,
    rewriteSuccess: best !== null,
    numRewriteTrials: candidates.length,
    chosen: best,
  };
}

/** SDFT-style (Yang et al. 2024): keep the response iff the task check passes and it gives nothing away. */
export function sdftKeeps(response: string, passes: boolean): boolean {
  const lower = response.toLowerCase();
  return passes && !SDFT_GIVEAWAYS.some((p) => lower.includes(p));
}
