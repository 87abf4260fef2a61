// What each arm's SFT data is like, beside what SFT on it did: how natural it is for the backbone
// (mean NLL), how diverse (mean pairwise embedding distance, distinct-n), how much of it the arm's
// builder really rewrote (and whether it copied y*, or how far it moved from it), how much of it
// carries a false step, and how much there is to train on. Reward hacking and a fallback that hands
// most records back as y* both show here.
import type { DataStats } from '../schemas';
import { checkEquations } from './equations';
import { l2Normalize } from './rewards';
import { distinctNs, isCopy, mean, normalizedEditDistance } from './rollout-stats';

/** One SFT record; a rewritten arm's records carry their provenance (rewriteDataset's fields). */
export interface SftRecord {
  id: string;
  question: string;
  answer: string;
  /** y*, when the answer may differ from it. */
  original?: string;
  rewrite_success?: boolean;
  num_rewrite_trials?: number;
  chosen?: number | null;
  chosen_reward?: { reward: number } & Record<string, number>;
}

export type { DataStats };

export interface DataStatsInput {
  records: SftRecord[];
  score: { meanNll: number; tokens: number };
  /** Embeddings (unit vectors) of the answers, by record id. */
  embeddings?: Map<string, ArrayLike<number>>;
  /** How many records the builder saw (default: all of them are in the set). */
  recordsSeen?: number;
  /** Edit distances are bounded for speed: a distance above this share of the length counts as 1. */
  maxEditShare?: number;
}

export function dataStats(input: DataStatsInput): DataStats {
  const { records, score } = input;
  if (records.length === 0) throw new Error('dataStats: an empty SFT set');
  const recordsSeen = input.recordsSeen ?? records.length;
  if (recordsSeen < records.length)
    throw new Error(`dataStats: ${records.length} records in the set but only ${recordsSeen} seen`);
  const answers = records.map((r) => r.answer);
  const provenance = records.filter((r) => r.rewrite_success !== undefined);
  const rewritten = provenance.filter((r) => r.rewrite_success && r.original !== undefined);
  const rewards = records.flatMap((r) => (r.chosen_reward ? [r.chosen_reward.reward] : []));
  let embeddingDiversity: number | null = null;
  if (input.embeddings) {
    const vectors = records.map((r) => {
      const e = input.embeddings!.get(r.id);
      if (!e) throw new Error(`dataStats: no embedding for record ${r.id}`);
      return l2Normalize(e);
    });
    embeddingDiversity = meanPairwiseUnitDistance(vectors);
  }
  return {
    records: records.length,
    recordsSeen,
    trainedTokens: score.tokens,
    meanNll: score.meanNll,
    embeddingDiversity,
    ...distinctNs(answers),
    // records left out by 'drop' are failures: success is counted over every record seen
    rewriteSuccessRate: provenance.length ? provenance.filter((r) => r.rewrite_success).length / recordsSeen : null,
    meanTrials: provenance.length ? mean(provenance.map((r) => r.num_rewrite_trials ?? 0)) : null,
    falseStepShare: answers.filter((a) => checkEquations(a).failed.length > 0).length / records.length,
    copyRate: provenance.length
      ? rewritten.length
        ? rewritten.filter((r) => isCopy(r.answer, r.original!)).length / rewritten.length
        : 0
      : null,
    editDistance: rewritten.length
      ? mean(rewritten.map((r) => normalizedEditDistance(r.answer, r.original!, input.maxEditShare ?? 1)))
      : null,
    chosenReward: rewards.length ? mean(rewards) : null,
    meanChars: mean(answers.map((a) => a.length)),
    meanTokens: score.tokens / records.length,
  };
}

/**
 * The mean over all pairs of unit vectors of (1 - cos) / 2 (method/diversity.ts's datasetDiversity),
 * in O(n d) instead of O(n^2 d): the sum of u_i . u_j over i < j is (|sum u|^2 - n) / 2. A dataset of
 * thousands of records then costs milliseconds, not minutes.
 */
export function meanPairwiseUnitDistance(unit: Float64Array[]): number {
  const n = unit.length;
  if (n < 2) return 0;
  const total = new Float64Array(unit[0].length);
  for (const u of unit) for (let k = 0; k < u.length; k++) total[k] += u[k];
  const squared = total.reduce((s, x) => s + x * x, 0);
  const pairs = (n * (n - 1)) / 2;
  return 0.5 - (squared - n) / 2 / (2 * pairs);
}
