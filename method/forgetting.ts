// Forgetting: for an arm a and a general benchmark b, forgetting_a,b = score_base,b - score_a,b, in
// accuracy points, with paired bootstrap 95% confidence intervals (items resampled with replacement,
// the same resample for both models, so the interval reflects the paired difference).
import { Rng } from '../engine/rng';
import type { ForgettingReport } from '../schemas';

export type { ForgettingReport };

/** Per-item correctness (1 or 0) of one model on one benchmark, keyed by item id. */
export type ItemScores = Map<string, number>;
/** Per benchmark. */
export type BenchmarkScores = Map<string, ItemScores>;

export type ForgettingRow = ForgettingReport['rows'][number];
/** A statistic with its 95% interval. */
export type Interval = ForgettingRow['mean'];

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
}

function paired(base: ItemScores, arm: ItemScores, benchmark: string, armName: string): Float64Array {
  const diffs = new Float64Array(base.size);
  let i = 0;
  for (const [id, b] of base) {
    const a = arm.get(id);
    if (a === undefined) throw new Error(`${armName} has no result for item ${id} of ${benchmark}`);
    diffs[i++] = (b - a) * 100;
  }
  if (arm.size !== base.size) throw new Error(`${armName} and the base evaluated different items of ${benchmark}`);
  return diffs;
}

const mean = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** The q-quantile of sorted values, linearly interpolated. */
export function percentile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Bootstrap of the mean over benchmarks of per-benchmark mean differences: each benchmark's items are
 * resampled on their own. With one benchmark it is the plain paired bootstrap.
 */
export function bootstrapMeanDifference(diffsPerBenchmark: Float64Array[], o: BootstrapOptions = {}): Interval {
  const resamples = o.resamples ?? 2000;
  const rng = new Rng(o.seed ?? 0);
  const value = diffsPerBenchmark.reduce((s, d) => s + mean(d), 0) / diffsPerBenchmark.length;
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let total = 0;
    for (const d of diffsPerBenchmark) {
      let s = 0;
      for (let i = 0; i < d.length; i++) s += d[rng.int(d.length)];
      total += s / d.length;
    }
    stats[r] = total / diffsPerBenchmark.length;
  }
  stats.sort();
  return { value, low: percentile(stats, 0.025), high: percentile(stats, 0.975) };
}

export function forgetting(
  base: BenchmarkScores,
  arms: Record<string, BenchmarkScores>,
  benchmarks: string[],
  o: BootstrapOptions = {},
): ForgettingReport {
  const accuracy = (s: ItemScores) => (100 * [...s.values()].reduce((a, b) => a + b, 0)) / s.size;
  const baseScores = Object.fromEntries(benchmarks.map((b) => [b, accuracy(need(base, b, 'base'))]));
  const rows = Object.entries(arms).map(([arm, scores]) => {
    const diffs = benchmarks.map((b) => paired(need(base, b, 'base'), need(scores, b, arm), b, arm));
    return {
      arm,
      scores: Object.fromEntries(benchmarks.map((b) => [b, accuracy(need(scores, b, arm))])),
      forgetting: Object.fromEntries(benchmarks.map((b, i) => [b, bootstrapMeanDifference([diffs[i]], o)])),
      mean: bootstrapMeanDifference(diffs, o),
    };
  });
  return { benchmarks, base: baseScores, rows, resamples: o.resamples ?? 2000, seed: o.seed ?? 0 };
}

/** The difference in forgetting between two arms (a minus b), paired over items, with its interval. */
export function forgettingDifference(
  a: BenchmarkScores,
  b: BenchmarkScores,
  benchmarks: string[],
  o: BootstrapOptions = {},
): Interval {
  // forgetting_a - forgetting_b = score_b - score_a, item by item
  return bootstrapMeanDifference(
    benchmarks.map((bench) => paired(need(b, bench, 'b'), need(a, bench, 'a'), bench, 'a')),
    o,
  );
}

/** 1 - mean forgetting of the method / mean forgetting of vanilla SFT. */
export function forgettingReduction(report: ForgettingReport, method: string, vanilla: string): number {
  const row = (name: string) => {
    const r = report.rows.find((x) => x.arm === name);
    if (!r) throw new Error(`no arm "${name}" in the report`);
    return r;
  };
  return 1 - row(method).mean.value / row(vanilla).mean.value;
}

function need(scores: BenchmarkScores, benchmark: string, who: string): ItemScores {
  const s = scores.get(benchmark);
  if (!s || s.size === 0) throw new Error(`${who} has no results for benchmark ${benchmark}`);
  return s;
}

const fmt = (x: number) => x.toFixed(1);
const interval = (i: Interval) => `${fmt(i.value)} [${fmt(i.low)}, ${fmt(i.high)}]`;

/** Markdown: accuracy of the base, then forgetting (points, 95% CI) of each arm per benchmark and on average. */
export function forgettingMarkdown(report: ForgettingReport): string {
  const head = `| arm | ${report.benchmarks.join(' | ')} | mean |`;
  const rule = `|---|${report.benchmarks.map(() => '---').join('|')}|---|`;
  const base = `| base (accuracy) | ${report.benchmarks.map((b) => fmt(report.base[b])).join(' | ')} | ${fmt(
    report.benchmarks.reduce((s, b) => s + report.base[b], 0) / report.benchmarks.length,
  )} |`;
  const rows = report.rows.map(
    (r) =>
      `| ${r.arm} (forgetting) | ${report.benchmarks.map((b) => interval(r.forgetting[b])).join(' | ')} | ${interval(r.mean)} |`,
  );
  return (
    [head, rule, base, ...rows].join('\n') +
    `\n\nForgetting = base accuracy - arm accuracy, in points; [95% paired bootstrap interval, ${report.resamples} resamples].\n`
  );
}
