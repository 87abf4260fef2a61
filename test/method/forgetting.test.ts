import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../engine/rng';
import {
  forgetting,
  forgettingDifference,
  forgettingMarkdown,
  forgettingReduction,
  type BenchmarkScores,
} from '../../method/forgetting';

function scores(rates: Record<string, number>, n: number, seed: number): BenchmarkScores {
  const rng = new Rng(seed);
  return new Map(
    Object.entries(rates).map(([b, p]) => [
      b,
      new Map(Array.from({ length: n }, (_, i) => [`${b}-${i}`, rng.float() < p ? 1 : 0])),
    ]),
  );
}

test('forgetting is base minus arm, with intervals that exclude zero only for a real drop', () => {
  const base = scores({ a: 0.9, b: 0.95 }, 500, 1);
  // the arm keeps each base success with probability 0.8 on a, and everything on b
  const rng = new Rng(9);
  const arm: BenchmarkScores = new Map([
    ['a', new Map([...base.get('a')!].map(([id, v]) => [id, v && rng.float() < 0.8 ? 1 : 0]))],
    ['b', new Map(base.get('b')!)],
  ]);
  const report = forgetting(base, { vanilla: arm }, ['a', 'b'], { resamples: 1000, seed: 0 });
  const row = report.rows[0];
  const expected = report.base.a - row.scores.a;
  assert.ok(Math.abs(row.forgetting.a.value - expected) < 1e-9);
  assert.ok(row.forgetting.a.low > 0, `interval ${JSON.stringify(row.forgetting.a)} excludes zero`);
  assert.equal(row.forgetting.b.value, 0);
  assert.ok(row.forgetting.b.low <= 0 && row.forgetting.b.high >= 0);
  assert.ok(Math.abs(row.mean.value - (row.forgetting.a.value + row.forgetting.b.value) / 2) < 1e-9);
  const md = forgettingMarkdown(report);
  assert.match(md, /\| vanilla \(forgetting\) \| \d+\.\d \[\d+\.\d, \d+\.\d\] \| 0\.0 \[/);
});

test('the difference between two arms and the forgetting reduction', () => {
  const base = scores({ a: 0.9 }, 400, 1);
  const drop = (keep: number, seed: number): BenchmarkScores => {
    const rng = new Rng(seed);
    return new Map([['a', new Map([...base.get('a')!].map(([id, v]) => [id, v && rng.float() < keep ? 1 : 0]))]]);
  };
  const vanilla = drop(0.7, 2);
  const method = drop(0.9, 3);
  const report = forgetting(base, { vanilla, method }, ['a']);
  const r = forgettingReduction(report, 'method', 'vanilla');
  assert.ok(r > 0.4 && r < 0.9, String(r));
  const d = forgettingDifference(vanilla, method, ['a']);
  assert.ok(d.value > 0 && d.low > 0, JSON.stringify(d));
  assert.throws(() => forgetting(base, { bad: new Map([['a', new Map([['x', 1]])]]) }, ['a']), /no result for item/);
});
