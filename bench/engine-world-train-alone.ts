/**
 * One path of the world's width-128 train step alone on its runner (never part of npm test), for
 * settings that would touch every arm of bench/engine-world-train.ts:
 *   npx tsx bench/engine-world-train-alone.ts before|padded|packed [--spin] [--memory-pattern]
 * --spin turns on onnxruntime's spin-waiting threads (RunnerOptions.spinning, off by default);
 * --memory-pattern its memory pattern. Two passes over the world's 24 pretraining batches from the
 * same start; prints ms per step (wall and inside onnxruntime) and the process's minor page faults per
 * step, per pass (the first pass meets every batch shape for the first time).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import { parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { DEFAULT_RECIPE, backboneConfig } from '../world/recipe';
import { benchArgs } from './engine-model-common';
import { WORLD_TRAIN_ARMS, type WorldTrainArm, worldPretrainBatches, worldTrainProgram } from './world-batches';

const { args } = benchArgs();
const arm = args[0] as WorldTrainArm;
if (!WORLD_TRAIN_ARMS.includes(arm)) {
  console.log('usage: engine-world-train-alone.ts before|padded|packed [--spin] [--memory-pattern]');
  process.exit(0);
}
const spinning = args.includes('--spin');
const memoryPattern = args.includes('--memory-pattern');
const minorFaults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
const config = parseDecoderConfig(backboneConfig(DEFAULT_RECIPE.backbone));
const weights = randomDecoderWeights(config, 1);
const batches = worldPretrainBatches(24, DEFAULT_RECIPE.pretrain.batchSize);
const runner = new Runner({ intraOpThreads: 2, nice: 5, spinning });
const p = await worldTrainProgram(runner, { config, weights }, arm, { memoryPattern });
const load0 = loadavg()[0];
await p.init(weights);
await p.step([batches[0]], 1e-3); // warm-up
for (let pass = 0; pass < 2; pass++) {
  await p.init(weights);
  const f0 = minorFaults();
  const t0 = performance.now();
  let run = 0;
  for (const b of batches) run += (await p.step([b], 1e-3)).runMs;
  const n = batches.length;
  console.log(
    `${arm}${spinning ? ', spinning' : ''}${memoryPattern || arm === 'before' ? ', memory pattern' : ''}, pass ${pass + 1}: ${((performance.now() - t0) / n).toFixed(0)} ms/step (${(run / n).toFixed(0)} in onnxruntime), ${((minorFaults() - f0) / n).toFixed(0)} minor faults/step`,
  );
}
await runner.close();
console.log(`load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
