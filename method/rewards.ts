// The rewriting policy's reward, computed per GROUP of K rewrites of one question (METHOD.md):
//   g_i      hard gate: the rewrite's final answer equals the reference's (and, optionally, the judge agrees)
//   r_dist   alignment: sigmoid(-z) of the backbone's mean NLL per answer token, z-scored over the feasible set
//   r_div    diversity: how much rewrite i adds to the mean pairwise embedding distance of the feasible set
//   r_i = g_i * (1 + lambdaDist * r_dist + lambdaDiv * r_div)
// The no-gate ablation (gateInReward: false) rewards every rewrite as if it were feasible: S+ is the
// whole group and r_i = 1 + lambdaDist * r_dist + lambdaDiv * r_div; the gate's verdicts are still
// reported (and Generate-Verify-Fallback still gates).

export interface RewardWeights {
  lambdaDist: number;
  lambdaDiv: number;
}

export const PAPER_REWARD_WEIGHTS: RewardWeights = { lambdaDist: 0.35, lambdaDiv: 0.5 };

export interface RewardConfig extends RewardWeights {
  /** false: the no-gate ablation, every rewrite rewarded as if feasible (default true). */
  gateInReward?: boolean;
}

export interface RewardBreakdown {
  gate: number[];
  dist: number[];
  div: number[];
  reward: number[];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** r_dist over the feasible set S+ (0 outside it). `nll[i]` is l_i, the mean NLL per answer token under pi_0. */
export function alignmentRewards(nll: number[], gate: number[]): number[] {
  const feasible = nll.map((_, i) => i).filter((i) => gate[i] === 1);
  const out = nll.map(() => 0);
  if (feasible.length === 0) return out;
  const mean = feasible.reduce((s, i) => s + nll[i], 0) / feasible.length;
  const std =
    feasible.length === 1 ? 1 : Math.sqrt(feasible.reduce((s, i) => s + (nll[i] - mean) ** 2, 0) / feasible.length);
  for (const i of feasible) out[i] = sigmoid(-(nll[i] - mean) / (std + 1e-6));
  return out;
}

export function l2Normalize(v: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  const norm = Math.sqrt(n) || 1;
  return Float64Array.from(v, (x) => x / norm);
}

/** d(u, v) = (1 - cos(u, v)) / 2 for L2-normalised u, v. */
export function distance(u: Float64Array, v: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < u.length; i++) dot += u[i] * v[i];
  return (1 - dot) / 2;
}

/** D(S): mean pairwise distance over the members of S (0 when |S| < 2). */
export function meanPairwiseDistance(embeddings: Float64Array[], members: number[]): number {
  if (members.length < 2) return 0;
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < members.length; a++) {
    for (let b = a + 1; b < members.length; b++) {
      total += distance(embeddings[members[a]], embeddings[members[b]]);
      pairs++;
    }
  }
  return total / pairs;
}

/** r_div,i = max(0, D(S+) - D(S+ without i)) for i in S+, else 0. Embeddings must be L2-normalised. */
export function diversityRewards(embeddings: Float64Array[], gate: number[]): number[] {
  const feasible = embeddings.map((_, i) => i).filter((i) => gate[i] === 1);
  const whole = meanPairwiseDistance(embeddings, feasible);
  return embeddings.map((_, i) =>
    gate[i] === 1
      ? Math.max(
          0,
          whole -
            meanPairwiseDistance(
              embeddings,
              feasible.filter((j) => j !== i),
            ),
        )
      : 0,
  );
}

export interface GroupInput {
  gate: number[];
  nll: number[];
  /** L2-normalised mean-pooled last hidden states of pi_0 on each rewrite alone. */
  embeddings: Float64Array[];
}

/** The rewards of one group; `gate` in the breakdown is always the gate's verdicts, ablation or not. */
export function groupRewards(g: GroupInput, w: RewardConfig = PAPER_REWARD_WEIGHTS): RewardBreakdown {
  const k = g.gate.length;
  if (g.nll.length !== k || g.embeddings.length !== k)
    throw new Error('groupRewards: gate, nll and embeddings differ in length');
  const feasible = w.gateInReward === false ? g.gate.map(() => 1) : g.gate;
  const dist = alignmentRewards(g.nll, feasible);
  const div = diversityRewards(g.embeddings, feasible);
  const reward = feasible.map((gi, i) => gi * (1 + w.lambdaDist * dist[i] + w.lambdaDiv * div[i]));
  return { gate: [...g.gate], dist, div, reward };
}

/** GRPO advantages: A_i = (r_i - mean_group) / (std_group + eps). */
export function grpoAdvantages(rewards: number[], eps = 1e-6): number[] {
  const mean = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  const std = Math.sqrt(rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / rewards.length);
  return rewards.map((r) => (r - mean) / (std + eps));
}
