// The pipeline report's statistics at the pipeline's size: the hierarchical bootstrap over 3 runs of
// 12 arms and the base on 6 benchmarks of 500 items (2000 resamples), and the mean pairwise embedding
// distance of a 2000-record dataset, closed form against all pairs. `npm run bench -- report`.
import { Rng } from '../engine/rng';
import { meanPairwiseUnitDistance } from '../method/data-stats';
import { datasetDiversity } from '../method/diversity';
import { l2Normalize } from '../method/rewards';
import { pooledReport, resampleAccuracies, type RunScores } from '../method/statistics';

const rng = new Rng(1);
const benchmarks = ['arithmetic', 'comparison', 'strings', 'counting', 'facts', 'shop'];
// items are easy or hard, and every model gets the easy ones right first (as real models do)
function run(shift: number): RunScores {
  const hardness = benchmarks.map(() => Array.from({ length: 500 }, () => rng.float()));
  const model = (wrong: number) =>
    new Map(benchmarks.map((b, i) => [b, new Map(hardness[i].map((h, j) => [`${b}-${j}`, h < wrong ? 0 : 1]))]));
  return {
    base: model(0.05),
    arms: Object.fromEntries(Array.from({ length: 12 }, (_, k) => [`arm${k}`, model(0.3 + k / 30 + shift)])),
  };
}
const runs = [0, 0.01, 0.02].map(run);
const time = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const general = benchmarks.slice(0, 5);
const resample = time(() => resampleAccuracies(runs, benchmarks, { resamples: 2000 }));
const pooled = time(() => pooledReport(runs, general, ['shop'], { reference: 'arm0', method: 'arm1' }));
console.log(`hierarchical bootstrap, 3 runs x 13 models x 6 x 500 items, 2000 resamples: ${resample.toFixed(0)} ms`);
console.log(`every pooled statistic (forgetting, differences, cut, versus) with it: ${pooled.toFixed(0)} ms`);

const unit = Array.from({ length: 2000 }, () => l2Normalize(Array.from({ length: 128 }, () => rng.float() - 0.5)));
let fast = 0;
let slow = 0;
const tFast = time(() => (fast = meanPairwiseUnitDistance(unit)));
const tSlow = time(() => (slow = datasetDiversity(unit)));
console.log(
  `mean pairwise distance of 2000 x 128: closed form ${tFast.toFixed(1)} ms, all pairs ${tSlow.toFixed(0)} ms ` +
    `(${(tSlow / tFast).toFixed(0)}x), |difference| ${Math.abs(fast - slow).toExponential(1)}`,
);
