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
