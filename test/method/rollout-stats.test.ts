import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../engine/rng';
import {
  copyRate,
  distinctNs,
  isCopy,
  levenshtein,
  mean,
  normalizedEditDistance,
  promptsForStep,
  std,
  tiedGroupShare,
} from '../../method/rollout-stats';

function naive(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

test('copies: equal to y* after whitespace normalization', () => {
  assert.ok(isCopy('3 + 8 = 11\n\\boxed{11}', ' 3 +  8 = 11 \\boxed{11}\n'));
  assert.ok(!isCopy('3 + 8 = 11\n\\boxed{11}', '8 + 3 = 11\n\\boxed{11}'));
  assert.equal(
    copyRate([
      { rewrite: 'a  b', reference: 'a b' },
      { rewrite: 'a b', reference: 'a c' },
    ]),
    0.5,
  );
  assert.equal(copyRate([]), 0);
});

test('edit distance: exact Levenshtein, normalized by the longer length; bounded cost', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(levenshtein('abc', ''), 3);
  assert.equal(levenshtein('', ''), 0);
  assert.equal(normalizedEditDistance('kitten', 'sitting'), 3 / 7);
  assert.equal(normalizedEditDistance('', ''), 0);
  assert.equal(normalizedEditDistance('abc', 'abc'), 0);
  assert.equal(normalizedEditDistance('abc', 'xyz'), 1);
  const rng = new Rng(3);
  const text = (n: number) => Array.from({ length: n }, () => 'ab c'[rng.int(4)]).join('');
  for (let t = 0; t < 300; t++) {
    const a = text(rng.int(30));
    const b = text(rng.int(30));
    const exact = naive(a, b);
    assert.equal(levenshtein(a, b), exact, `${a} | ${b}`);
    const bound = rng.int(12);
    assert.equal(levenshtein(a, b, bound), exact <= bound ? exact : bound + 1, `${a} | ${b} | ${bound}`);
  }
  // a runaway rollout against a short y*: the band stops at once
  assert.equal(normalizedEditDistance('x'.repeat(100_000), 'abc', 0.5), 1);
  assert.equal(levenshtein('a'.repeat(5000), 'a'.repeat(4999) + 'b', 2), 1);
});

test('distinct-n, mean and std, tied groups', () => {
  assert.deepEqual(distinctNs(['a b a b', 'a b c']), { distinct1: 3 / 7, distinct2: 3 / 5, distinct3: 3 / 3 });
  assert.deepEqual(distinctNs([]), { distinct1: 0, distinct2: 0, distinct3: 0 });
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.equal(mean([]), 0);
  assert.equal(std([1, 3]), 1);
  assert.equal(std([5]), 0);
  assert.equal(
    tiedGroupShare([
      [0, 0, 0],
      [1, 1.175, 0],
      [1.2, 1.2],
      [0, 1],
    ]),
    0.5,
  );
  assert.equal(tiedGroupShare([]), 0);
});

test('the RL prompt sampler: without replacement within an epoch, reshuffled per epoch, a pure function of (seed, step)', () => {
  const pool = 10;
  const per = 4;
  const steps = Array.from({ length: 10 }, (_, s) => promptsForStep(pool, per, 7, s));
  const flat = steps.flat();
  for (let e = 0; e < 4; e++) {
    const epoch = flat.slice(e * pool, (e + 1) * pool);
    assert.deepEqual(
      [...epoch].sort((x, y) => x - y),
      [...Array(pool).keys()],
      `epoch ${e}`,
    );
  }
  assert.notDeepEqual(flat.slice(0, pool), flat.slice(pool, 2 * pool), 'reshuffled per epoch');
  assert.deepEqual(promptsForStep(pool, per, 7, 6), steps[6], 'a resumed run rebuilds the same batch');
  assert.notDeepEqual(promptsForStep(pool, per, 8, 0), steps[0], 'another seed, another order');
  assert.deepEqual(promptsForStep(3, 7, 1, 0).length, 7);
  assert.throws(() => promptsForStep(0, 1, 0, 0), /poolSize/);
  assert.throws(() => promptsForStep(5, 1, 0, -1), /step/);
});
