import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../engine/rng';
import { dataStats, meanPairwiseUnitDistance, type SftRecord } from '../../method/data-stats';
import { datasetDiversity } from '../../method/diversity';
import { l2Normalize } from '../../method/rewards';

const rewritten: SftRecord[] = [
  // a real rewrite, scored by the builder
  {
    id: 'a',
    question: 'q',
    answer: '2 + 3 = 5\n\\boxed{5}',
    original: '3 + 2 = 5.\n\\boxed{5}',
    rewrite_success: true,
    num_rewrite_trials: 4,
    chosen: 1,
    chosen_reward: { reward: 1.2, gate: 1, dist: 0.4, div: 0.1 },
  },
  // a copy of y*, whitespace aside
  {
    id: 'b',
    question: 'q',
    answer: '1 + 1 = 2\n\\boxed{2}',
    original: '1 + 1 = 2 \\boxed{2}',
    rewrite_success: true,
    num_rewrite_trials: 4,
    chosen: 0,
    chosen_reward: { reward: 0.8, gate: 1, dist: 0.2, div: 0 },
  },
  // the fallback: nothing passed, y* is kept; its step is false
  {
    id: 'c',
    question: 'q',
    answer: '4 + 4 = 9\n\\boxed{9}',
    original: '4 + 4 = 9\n\\boxed{9}',
    rewrite_success: false,
    num_rewrite_trials: 4,
    chosen: null,
  },
];

test('a rewritten arm: success over the records seen, copies and edit distance over the rewrites, false steps over all', () => {
  const s = dataStats({ records: rewritten, score: { meanNll: 2.5, tokens: 30 } });
  assert.equal(s.records, 3);
  assert.equal(s.recordsSeen, 3);
  assert.equal(s.rewriteSuccessRate, 2 / 3);
  assert.equal(s.meanTrials, 4);
  assert.equal(s.copyRate, 1 / 2);
  assert.equal(s.falseStepShare, 1 / 3);
  assert.equal(s.chosenReward, 1);
  assert.equal(s.trainedTokens, 30);
  assert.equal(s.meanTokens, 10);
  assert.equal(s.meanNll, 2.5);
  // 'b' differs from its y* by one character (newline for space) out of 19; 'a' by more
  assert.ok(s.editDistance! > 0 && s.editDistance! < 1);
  assert.equal(s.embeddingDiversity, null);
  assert.equal(s.meanChars, (19 + 19 + 19) / 3);
});

test("fallback 'drop': records left out count as failures; data with no provenance has no rewrite figures", () => {
  const kept = rewritten.filter((r) => r.rewrite_success);
  const dropped = dataStats({ records: kept, score: { meanNll: 2, tokens: 20 }, recordsSeen: 4 });
  assert.equal(dropped.records, 2);
  assert.equal(dropped.rewriteSuccessRate, 2 / 4);
  assert.equal(dropped.falseStepShare, 0);
  const vanilla = dataStats({
    records: rewritten.map(({ id, question, original }) => ({ id, question, answer: original! })),
    score: { meanNll: 3.8, tokens: 33 },
  });
  assert.equal(vanilla.rewriteSuccessRate, null);
  assert.equal(vanilla.copyRate, null);
  assert.equal(vanilla.editDistance, null);
  assert.equal(vanilla.chosenReward, null);
  assert.throws(() => dataStats({ records: kept, score: { meanNll: 1, tokens: 1 }, recordsSeen: 1 }), /only 1 seen/);
});

test('distinct-n over the answers and the mean pairwise embedding distance', () => {
  const records = [
    { id: 'x', question: 'q', answer: 'a b c' },
    { id: 'y', question: 'q', answer: 'a b d' },
  ];
  const embeddings = new Map([
    ['x', [1, 0]],
    ['y', [0, 1]],
  ]);
  const s = dataStats({ records, score: { meanNll: 1, tokens: 6 }, embeddings });
  assert.equal(s.distinct1, 4 / 6);
  assert.equal(s.distinct2, 3 / 4);
  assert.equal(s.distinct3, 2 / 2);
  // orthogonal unit vectors: (1 - cos) / 2 = 0.5
  assert.equal(s.embeddingDiversity, 0.5);
  assert.throws(
    () => dataStats({ records, score: { meanNll: 1, tokens: 6 }, embeddings: new Map([['x', [1, 0]]]) }),
    /no embedding for record y/,
  );
});

test('the mean pairwise distance in O(n d) equals the all-pairs one', () => {
  const rng = new Rng(9);
  const unit = Array.from({ length: 40 }, () => l2Normalize(Array.from({ length: 16 }, () => rng.float() - 0.3)));
  const fast = meanPairwiseUnitDistance(unit);
  assert.ok(Math.abs(fast - datasetDiversity(unit)) < 1e-12, `${fast} vs ${datasetDiversity(unit)}`);
  assert.ok(fast > 0.05 && fast < 0.5);
  assert.equal(meanPairwiseUnitDistance(unit.slice(0, 1)), 0);
  assert.ok(Math.abs(meanPairwiseUnitDistance([unit[0], unit[0]])) < 1e-12, 'a vector and itself: distance 0');
});
