import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../engine/rng';
import { forgetting, type BenchmarkScores } from '../../method/forgetting';
import { pooledReport, type RunScores } from '../../method/statistics';

/** Scores of n items (ids i0..), correct unless `wrong(i)`. */
const items = (n: number, wrong: (i: number) => boolean) =>
  new Map(Array.from({ length: n }, (_, i) => [`i${i}`, wrong(i) ? 0 : 1]));
const scores = (perBenchmark: Record<string, Map<string, number>>): BenchmarkScores =>
  new Map(Object.entries(perBenchmark));
const noisy = (seed: number, p: number) => {
  const rng = new Rng(seed);
  return (_i: number) => rng.float() < p;
};

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test('one run reproduces the paired bootstrap of method/forgetting.ts, number for number', () => {
  const base = scores({ x: items(200, noisy(1, 0.1)), y: items(150, noisy(2, 0.05)) });
  const arm = scores({ x: items(200, noisy(3, 0.4)), y: items(150, noisy(4, 0.3)) });
  // a downstream benchmark beside them draws its items from its own stream: the same numbers
  const down = items(50, noisy(5, 0.5));
  base.set('d', down);
  arm.set('d', items(50, noisy(6, 0.1)));
  const pooled = pooledReport([{ base, arms: { vanilla: arm } }], ['x', 'y'], ['d'], { resamples: 500, seed: 7 });
  const paired = forgetting(base, { vanilla: arm }, ['x', 'y'], { resamples: 500, seed: 7 });
  const [a, b] = [pooled.arms[0].mean, paired.rows[0].mean];
  near(a.value, b.value, 'value');
  near(a.low, b.low, 'low');
  near(a.high, b.high, 'high');
  assert.ok(a.low < a.value && a.value < a.high);
});

test('identical arms differ by exactly zero; arms wrong on different but as many items give a zero-centred interval', () => {
  const base = scores({ x: items(400, () => false) });
  const a = scores({ x: items(400, (i) => i % 4 === 0) });
  const b = scores({ x: items(400, (i) => i % 4 === 1) });
  const r = pooledReport([{ base, arms: { a, same: a, b } }], ['x'], [], { resamples: 1000 });
  assert.deepEqual(r.differences.find((d) => d.b === 'same')!.difference, { value: 0, low: 0, high: 0 });
  const ab = r.differences.find((d) => d.a === 'a' && d.b === 'b')!.difference;
  assert.equal(ab.value, 0);
  assert.ok(ab.low < 0 && ab.high > 0, `${JSON.stringify(ab)} holds zero`);
  assert.ok(Math.abs(ab.low + ab.high) < 0.25 * (ab.high - ab.low), `${JSON.stringify(ab)} is centred on zero`);
});

test('a known shift is recovered: forgetting 25 and 12.5 pooled over two runs, a relative cut of exactly one half', () => {
  const run = (fa: number, fb: number): RunScores => ({
    base: scores({ x: items(100, () => false), down: items(50, (i) => i < 40) }),
    arms: {
      vanilla: scores({ x: items(100, (i) => i < fa), down: items(50, () => false) }),
      rl: scores({ x: items(100, (i) => i < fb), down: items(50, (i) => i < 1) }),
    },
  });
  const r = pooledReport([run(20, 10), run(30, 15)], ['x'], ['down'], { reference: 'vanilla', method: 'rl' });
  const arm = (name: string) => r.arms.find((a) => a.arm === name)!;
  near(arm('vanilla').mean.value, 25, 'vanilla');
  near(arm('rl').mean.value, 12.5, 'rl');
  near(r.base.down.value, 20, 'base downstream');
  near(arm('rl').downstream.down.value, 98, 'rl downstream');
  const cut = r.cut!.rows[0];
  near(cut.absolute.value, 12.5, 'absolute cut');
  near(cut.relative!.value, 0.5, 'relative cut');
  assert.ok(cut.relative!.low > 0 && cut.relative!.low < 0.5 && cut.relative!.high > 0.5);
  const versus = r.versus!.rows[0];
  assert.equal(versus.arm, 'vanilla');
  near(versus.forgetting.value, 12.5, 'rl forgets less than vanilla by');
  near(versus.downstream!.value, -2, 'rl downstream - vanilla downstream');
});

test('the runs are resampled too: two runs that disagree and have no item noise give the interval [0, 100]', () => {
  const base = scores({ x: items(50, () => false) });
  const runs = [
    { base, arms: { vanilla: scores({ x: items(50, () => false) }) } },
    { base, arms: { vanilla: scores({ x: items(50, () => true) }) } },
  ];
  // a resample draws the two runs with replacement: mean forgetting 0, 50 or 100 with 1/4, 1/2, 1/4
  const r = pooledReport(runs, ['x'], [], { resamples: 2000 });
  assert.deepEqual(r.arms[0].mean, { value: 50, low: 0, high: 100 });
});

test('seeded and deterministic; runs with other arms are refused naming the run', () => {
  const base = scores({ x: items(100, noisy(5, 0.1)) });
  const runs = [{ base, arms: { vanilla: scores({ x: items(100, noisy(6, 0.5)) }) } }];
  const once = pooledReport(runs, ['x'], [], { seed: 3 });
  assert.deepEqual(pooledReport(runs, ['x'], [], { seed: 3 }), once);
  assert.notDeepEqual(pooledReport(runs, ['x'], [], { seed: 4 }).arms[0].mean, once.arms[0].mean);
  assert.throws(
    () => pooledReport([...runs, { base, arms: { oracle: runs[0].arms.vanilla } }], ['x'], []),
    /run 1 has arms oracle, run 0 has vanilla/,
  );
  assert.throws(
    () => pooledReport([{ base, arms: { vanilla: scores({ x: items(99, () => false) }) } }], ['x'], []),
    /vanilla and the base evaluated different items of x/,
  );
});
