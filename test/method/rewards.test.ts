import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distinctN } from '../../method/diversity';
import {
  alignmentRewards,
  diversityRewards,
  groupRewards,
  grpoAdvantages,
  l2Normalize,
  meanPairwiseDistance,
} from '../../method/rewards';
import { generateVerifyFallback, sdftKeeps } from '../../method/selection';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('alignment: sigmoid of the negated z-score over the feasible set only', () => {
  const r = alignmentRewards([1, 2, 3, 9], [1, 1, 1, 0]);
  const std = Math.sqrt(2 / 3);
  close(r[0], 1 / (1 + Math.exp(-(1 / (std + 1e-6)))));
  close(r[1], 0.5);
  assert.ok(r[0] > r[1] && r[1] > r[2], 'lower NLL, higher reward');
  assert.equal(r[3], 0);
  close(alignmentRewards([4], [1])[0], 0.5, 1e-6); // |S+| = 1: std = 1, z = 0
  assert.deepEqual(alignmentRewards([1, 2], [0, 0]), [0, 0]);
});

test('diversity: the marginal contribution to the mean pairwise distance, never negative', () => {
  const e = [
    [1, 0],
    [1, 0.01],
    [0, 1],
  ].map(l2Normalize);
  const r = diversityRewards(e, [1, 1, 1]);
  assert.ok(r[2] > 0, 'the odd one out adds diversity');
  close(r[0], 0);
  const whole = meanPairwiseDistance(e, [0, 1, 2]);
  close(r[2], Math.max(0, whole - meanPairwiseDistance(e, [0, 1])));
  assert.deepEqual(diversityRewards(e, [1, 0, 0]), [0, 0, 0]);
});

test('the group reward: gated, weighted; GRPO advantages normalised per group', () => {
  const g = groupRewards(
    { gate: [1, 0, 1], nll: [1, 1, 2], embeddings: [l2Normalize([1, 0]), l2Normalize([0, 1]), l2Normalize([1, 1])] },
    { lambdaDist: 0.35, lambdaDiv: 0.5 },
  );
  assert.equal(g.reward[1], 0);
  close(g.reward[0], 1 + 0.35 * g.dist[0] + 0.5 * g.div[0]);
  assert.ok(g.reward[0] > g.reward[2]);
  const a = grpoAdvantages([1, 0, 2]);
  close(
    a.reduce((s, x) => s + x, 0),
    0,
  );
  close(a[2], 1 / (Math.sqrt(2 / 3) + 1e-6));
  assert.deepEqual(grpoAdvantages([1, 1]), [0, 0]);
});

test('Generate-Verify-Fallback and the SDFT filter', () => {
  const s = generateVerifyFallback('orig', [
    { text: 'a', passes: false, score: 9 },
    { text: 'b', passes: true, score: 1 },
    { text: 'c', passes: true, score: 2 },
  ]);
  assert.deepEqual(s, { answer: 'c', rewriteSuccess: true, numRewriteTrials: 3, chosen: 2 });
  assert.deepEqual(generateVerifyFallback('orig', [{ text: 'a', passes: false }]), {
    answer: 'orig',
    rewriteSuccess: false,
    numRewriteTrials: 1,
    chosen: null,
  });
  assert.equal(sdftKeeps('My answer is 4', true), true);
  assert.equal(sdftKeeps('Following the Reference Answer, 4', true), false);
  assert.equal(sdftKeeps('4', false), false);
  close(distinctN(['a b a b', 'a b c'], 2), 3 / 5);
});

// Hand-computed groups (lambdaDist 0.35, lambdaDiv 0.5). Embeddings: x = [1, 0], y = [0, 1], -x = [-1, 0];
// d(x, y) = 1/2, d(x, -x) = 1, d(y, -x) = 1/2.
const [x, y, negX] = [l2Normalize([1, 0]), l2Normalize([0, 1]), l2Normalize([-1, 0])];
const W = { lambdaDist: 0.35, lambdaDiv: 0.5 };
const closeAll = (a: number[], b: number[], tol = 1e-9) => a.forEach((v, i) => close(v, b[i], tol));

test('hand-computed: |S+| = 0, 1, 2 and K', () => {
  // |S+| = 0: nothing is rewarded
  const none = groupRewards({ gate: [0, 0, 0], nll: [1, 2, 3], embeddings: [x, y, negX] }, W);
  assert.deepEqual(none, { gate: [0, 0, 0], dist: [0, 0, 0], div: [0, 0, 0], reward: [0, 0, 0] });
  // |S+| = 1: std = 1, z = 0, r_dist = 1/2; D of one member is 0, so r_div = 0: r = 1 + 0.35 / 2
  const one = groupRewards({ gate: [0, 1, 0], nll: [1, 2, 3], embeddings: [x, y, negX] }, W);
  closeAll(one.reward, [0, 1.175, 0]);
  closeAll(one.dist, [0, 0.5, 0]);
  // |S+| = 2: NLLs 1 and 3 (mean 2, std 1, z = -+1/(1 + 1e-6)); D(S+) = d(x, y) = 1/2, each one's removal leaves 0
  const two = groupRewards({ gate: [1, 0, 1], nll: [1, 9, 3], embeddings: [x, negX, y] }, W);
  closeAll(two.dist, [0.7310583820182228, 0, 0.2689416179817772]);
  closeAll(two.div, [0.5, 0, 0.5]);
  closeAll(two.reward, [1.5058705025205017, 0, 1.3441294974794982], 1e-6);
  // |S+| = K = 3: NLLs 1, 2, 3 (std sqrt(2/3)); D(S+) = (1/2 + 1 + 1/2) / 3 = 2/3; without x: 1/2, without
  // y: 1 (y lowers the mean distance, so r_div = max(0, 2/3 - 1) = 0), without -x: 1/2
  const all = groupRewards({ gate: [1, 1, 1], nll: [1, 2, 3], embeddings: [x, y, negX] }, W);
  closeAll(all.dist, [0.7728972172740828, 0.5, 0.22710278272591716]);
  closeAll(all.div, [1 / 6, 0, 1 / 6]);
  closeAll(all.reward, [1.3538473593792621, 1.175, 1.1628193072874042]);
});

test('hand-computed: equal NLLs (std 0, z = 0, r_dist = 1/2); identical embeddings (r_div = 0)', () => {
  const equal = groupRewards({ gate: [1, 1, 1, 0], nll: [2, 2, 2, 7], embeddings: [x, y, negX, x] }, W);
  assert.deepEqual(equal.dist, [0.5, 0.5, 0.5, 0]);
  const same = groupRewards({ gate: [1, 1, 1, 0], nll: [1, 2, 3, 0], embeddings: [x, x, x, y] }, W);
  assert.deepEqual(same.div, [0, 0, 0, 0]);
  closeAll(same.reward, [1 + 0.35 * 0.7728972172740828, 1.175, 1 + 0.35 * 0.22710278272591716, 0]);
});

test('the no-gate ablation: every rewrite rewarded as if feasible, the gate still reported', () => {
  const input = { gate: [1, 0, 0], nll: [1, 2, 3], embeddings: [x, y, negX] };
  const gated = groupRewards(input, W);
  closeAll(gated.reward, [1.175, 0, 0]);
  const ablation = groupRewards(input, { ...W, gateInReward: false });
  assert.deepEqual(ablation.gate, [1, 0, 0]);
  // the whole group is S+: the same rewards as the |S+| = K group above
  closeAll(ablation.reward, [1.3538473593792621, 1.175, 1.1628193072874042]);
  assert.deepEqual(groupRewards(input, { ...W, gateInReward: true }), gated);
  // with no feasible rewrite, still a reward for each
  const noneFeasible = groupRewards({ ...input, gate: [0, 0, 0] }, { ...W, gateInReward: false });
  assert.ok(noneFeasible.reward.every((r) => r >= 1));
});
