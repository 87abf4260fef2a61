// The pipeline's statistics, fixed before the runs. Across runs (SFT and data seeds on one backbone)
// a hierarchical bootstrap: each resample draws the runs with replacement, then, within each drawn
// run, the items of every benchmark with replacement, the same items for the base and every arm (so
// every difference stays paired). Every statistic reported (forgetting per benchmark and its mean,
// downstream accuracy, a difference between two arms, the relative cut against vanilla SFT) is a
// function of the run-averaged accuracy of each model on each benchmark, so one set of resampled
// accuracies serves them all, and their intervals come from the same draws.
import { Rng } from '../engine/rng';
import type { PooledReport } from '../schemas';
import { percentile, type BenchmarkScores, type Interval } from './forgetting';

/** One run: per-item correctness of the base and of each arm, per benchmark. */
export interface RunScores {
  base: BenchmarkScores;
  arms: Record<string, BenchmarkScores>;
}

export interface HierarchicalOptions {
  resamples?: number;
  seed?: number;
  /**
   * Benchmarks whose items are drawn from a second random stream (the downstream ones): adding or
   * removing one then leaves every other benchmark's intervals as they were. The runs drawn are the same.
   */
  ownStream?: string[];
}

/**
 * Accuracies (points) of every model on every benchmark, averaged over the runs: `observed` on the
 * data, `draws` on each resample. Index: model * benchmarks + benchmark; models are 'base' then the arms.
 */
export interface ResampledAccuracies {
  models: string[];
  benchmarks: string[];
  observed: Float64Array;
  draws: Float64Array[];
  runs: number;
  resamples: number;
  seed: number;
}

/**
 * Per run and benchmark, the items grouped by their pattern (the models' scores on the item): a
 * resample only counts how often it drew each pattern, then adds count x scores once per pattern.
 * Right and wrong answers go together across models, so there are far fewer patterns than items, and
 * the sums (whole numbers) are exactly those of adding item by item.
 */
interface Cell {
  n: number;
  /** The pattern of each item (in the base's item order). */
  pattern: Uint32Array;
  /** The scores of each pattern, pattern-major: scores[p * models + model]. */
  scores: Float64Array;
  patterns: number;
}

function aligned(runs: RunScores[], models: string[], benchmarks: string[]): Cell[][] {
  return runs.map((run, r) =>
    benchmarks.map((b) => {
      const base = run.base.get(b);
      if (!base || base.size === 0) throw new Error(`run ${r}: the base has no results for benchmark ${b}`);
      const ids = [...base.keys()];
      const columns = models.map((m) => {
        const scores = m === 'base' ? base : run.arms[m]?.get(b);
        if (!scores) throw new Error(`run ${r}: arm ${m} has no results for benchmark ${b}`);
        if (scores.size !== ids.length)
          throw new Error(`run ${r}: ${m} and the base evaluated different items of ${b}`);
        return ids.map((id) => {
          const v = scores.get(id);
          if (v === undefined) throw new Error(`run ${r}: ${m} has no result for item ${id} of ${b}`);
          return v;
        });
      });
      const index = new Map<string, number>();
      const rows: number[][] = [];
      const pattern = Uint32Array.from(ids, (_, j) => {
        const row = columns.map((c) => c[j]);
        const key = row.join(',');
        let p = index.get(key);
        if (p === undefined) {
          p = rows.length;
          index.set(key, p);
          rows.push(row);
        }
        return p;
      });
      return { n: ids.length, pattern, scores: Float64Array.from(rows.flat()), patterns: rows.length };
    }),
  );
}

export function resampleAccuracies(
  runs: RunScores[],
  benchmarks: string[],
  o: HierarchicalOptions = {},
): ResampledAccuracies {
  if (runs.length === 0) throw new Error('resampleAccuracies: no runs');
  const arms = Object.keys(runs[0].arms);
  runs.forEach((run, r) => {
    const own = Object.keys(run.arms);
    if (own.length !== arms.length || !own.every((a) => arms.includes(a)))
      throw new Error(`run ${r} has arms ${own.join(', ')}, run 0 has ${arms.join(', ')}: runs are pooled arm by arm`);
  });
  const models = ['base', ...arms];
  const M = models.length;
  const data = aligned(runs, models, benchmarks);
  const resamples = o.resamples ?? 2000;
  const seed = o.seed ?? 0;
  const B = benchmarks.length;
  const R = data.length;
  const observed = new Float64Array(M * B);
  for (const run of data)
    run.forEach(({ n, pattern, scores }, b) => {
      for (let j = 0; j < n; j++)
        for (let m = 0; m < M; m++) observed[m * B + b] += (100 * scores[pattern[j] * M + m]) / n / R;
    });
  const rng = new Rng(seed);
  const second = new Rng((seed ^ 0x5bd1e995) >>> 0);
  const streams = benchmarks.map((b) => (o.ownStream?.includes(b) ? second : rng));
  const draws: Float64Array[] = [];
  const sums = new Float64Array(M);
  for (let s = 0; s < resamples; s++) {
    const acc = new Float64Array(M * B);
    for (let slot = 0; slot < R; slot++) {
      // drawing among one run always gives that run; skipping the draw keeps the item stream the same
      // as the single-run paired bootstrap's (method/forgetting.ts), so one run reproduces it exactly
      const run = data[R === 1 ? 0 : rng.int(R)];
      for (let b = 0; b < B; b++) {
        const { n, pattern, scores, patterns } = run[b];
        const counts = new Float64Array(patterns);
        const items = streams[b];
        for (let i = 0; i < n; i++) counts[pattern[items.int(n)]]++;
        sums.fill(0);
        for (let p = 0; p < patterns; p++) {
          const c = counts[p];
          if (c !== 0) for (let m = 0; m < M; m++) sums[m] += c * scores[p * M + m];
        }
        for (let m = 0; m < M; m++) acc[m * B + b] += (100 * sums[m]) / n / R;
      }
    }
    draws.push(acc);
  }
  return { models, benchmarks, observed, draws, runs: runs.length, resamples, seed };
}

/** A statistic of the run-averaged accuracies: accuracy(model, benchmark) in points. */
export type Statistic = (accuracy: (model: string, benchmark: string) => number) => number;

/**
 * The statistic on the data and its 95% percentile interval over the resamples. Resamples where it is
 * undefined (a ratio over a zero) are left out; null when it is undefined on the data itself.
 */
export function intervalOf(r: ResampledAccuracies, stat: Statistic): Interval | null {
  const models = new Map(r.models.map((m, i) => [m, i]));
  const benchmarks = new Map(r.benchmarks.map((b, i) => [b, i]));
  const at = (acc: Float64Array) => (model: string, benchmark: string) => {
    const m = models.get(model);
    const b = benchmarks.get(benchmark);
    if (m === undefined || b === undefined)
      throw new Error(`no ${m === undefined ? `model ${model}` : `benchmark ${benchmark}`} in the resamples`);
    return acc[m * r.benchmarks.length + b];
  };
  const value = stat(at(r.observed));
  if (!Number.isFinite(value)) return null;
  const values = r.draws.map((d) => stat(at(d))).filter(Number.isFinite);
  const sorted = Float64Array.from(values).sort();
  return { value, low: percentile(sorted, 0.025), high: percentile(sorted, 0.975) };
}

/** Forgetting of an arm on some benchmarks: mean over them of base accuracy - arm accuracy (points). */
export const forgettingOf =
  (arm: string, benchmarks: string[]): Statistic =>
  (acc) =>
    benchmarks.reduce((s, b) => s + acc('base', b) - acc(arm, b), 0) / benchmarks.length;

/** forgetting(a) - forgetting(b): positive when b forgets less. */
export const forgettingDifferenceOf =
  (a: string, b: string, benchmarks: string[]): Statistic =>
  (acc) =>
    forgettingOf(a, benchmarks)(acc) - forgettingOf(b, benchmarks)(acc);

/** The paper's forgetting reduction, 1 - forgetting(arm) / forgetting(reference); undefined (NaN) when the reference did not forget. */
export const relativeCutOf =
  (arm: string, reference: string, benchmarks: string[]): Statistic =>
  (acc) => {
    const ref = forgettingOf(reference, benchmarks)(acc);
    return ref > 0 ? 1 - forgettingOf(arm, benchmarks)(acc) / ref : NaN;
  };

/** Accuracy of a model (base or an arm) averaged over some benchmarks (points). */
export const accuracyOf =
  (model: string, benchmarks: string[]): Statistic =>
  (acc) =>
    benchmarks.reduce((s, b) => s + acc(model, b), 0) / benchmarks.length;

export type { PooledReport };
export type ArmStatistics = PooledReport['arms'][number];

const must = (i: Interval | null, what: string): Interval => {
  if (!i) throw new Error(`${what} is undefined on the data`);
  return i;
};

/** Every pooled statistic of one extraction (strict or lenient) over a group of runs. */
export function pooledReport(
  runs: RunScores[],
  general: string[],
  downstream: string[],
  o: HierarchicalOptions & { reference?: string; method?: string } = {},
): PooledReport {
  if (general.length === 0) throw new Error('pooledReport: no general benchmark to measure forgetting on');
  const r = resampleAccuracies(runs, [...general, ...downstream], { ...o, ownStream: downstream });
  const arms = r.models.slice(1);
  const iv = (stat: Statistic, what: string) => must(intervalOf(r, stat), what);
  const report: PooledReport = {
    runs: r.runs,
    resamples: r.resamples,
    seed: r.seed,
    general,
    downstreamBenchmarks: downstream,
    base: Object.fromEntries(r.benchmarks.map((b) => [b, iv(accuracyOf('base', [b]), `base accuracy on ${b}`)])),
    arms: arms.map((arm) => ({
      arm,
      forgetting: Object.fromEntries(general.map((b) => [b, iv(forgettingOf(arm, [b]), `forgetting of ${arm}`)])),
      mean: iv(forgettingOf(arm, general), `forgetting of ${arm}`),
      downstream: Object.fromEntries(downstream.map((b) => [b, iv(accuracyOf(arm, [b]), `accuracy of ${arm}`)])),
    })),
    differences: arms.flatMap((a, i) =>
      arms.slice(i + 1).map((b) => ({ a, b, difference: iv(forgettingDifferenceOf(a, b, general), `${a} - ${b}`) })),
    ),
  };
  const { reference, method } = o;
  if (reference !== undefined && arms.includes(reference))
    report.cut = {
      reference,
      rows: arms
        .filter((a) => a !== reference)
        .map((arm) => ({
          arm,
          absolute: iv(forgettingDifferenceOf(reference, arm, general), `${reference} - ${arm}`),
          relative: intervalOf(r, relativeCutOf(arm, reference, general)),
        })),
    };
  if (method !== undefined && arms.includes(method))
    report.versus = {
      method,
      rows: arms
        .filter((a) => a !== method)
        .map((arm) => ({
          arm,
          forgetting: iv(forgettingDifferenceOf(arm, method, general), `${arm} - ${method}`),
          downstream: downstream.length
            ? intervalOf(r, (acc) => accuracyOf(method, downstream)(acc) - accuracyOf(arm, downstream)(acc))
            : null,
        })),
    };
  return report;
}
