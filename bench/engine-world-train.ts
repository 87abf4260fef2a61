/**
 * The embedded world's width-128 train step three ways, in one run on the same batches (never part of
 * npm test):
 *   npx tsx bench/engine-world-train.ts [--steps N] [--batch B] [--threads N] [--rounds R] [--blocks G,C] [--no-spin]
 * - before: the padded step as it was (onnxruntime's memory pattern on), the baseline;
 * - padded: the default step as sft runs it at one step per run (memory pattern off, no Loop:
 *   TrainProgramOptions.singleStep);
 * - packed: the same with the flat-stream step (TrainProgramOptions.packed; --blocks: its
 *   packedBlocks, groups and chunks, default PACKED_BLOCKS).
 * Padded and packed run on a runner with onnxruntime's spin-waiting threads, as a device worker runs
 * them (REWRITE_RL_SPINNING, default on), before on one without, as the code it stands for ran;
 * --no-spin runs all three without.
 * The batches are the world's pretraining stream as the default recipe cuts it (batch 32, random
 * batches in two length buckets, up to and above 128 tokens), on the recipe's backbone shape with
 * random weights. The programs take turns by whole passes over the batches (R rounds, the order
 * rotating), so load on this shared machine hits all alike. A step's time is its wall time from the caller (building the feeds included); the run time inside onnxruntime is shown beside
 * it. Throughput counts unpadded tokens and the FLOPs of the unpadded examples (3x the forward matmul
 * FLOPs of each example at its own length); the losses of the paths are printed side by side (same
 * start, same batches).
 */
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import type { TrainProgram } from '../engine/programs/train';
import { PACKED_BLOCKS } from '../engine/programs/train-packed';
import { decoderForwardFlops, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { DEFAULT_RECIPE, backboneConfig } from '../world/recipe';
import { benchArgs, matmulPeak } from './engine-model-common';
import {
  WORLD_TRAIN_ARMS as ARMS,
  type WorldTrainArm as Arm,
  exampleLength as len,
  worldPretrainBatches,
  worldTrainProgram,
} from './world-batches';

const { flag, value, has } = benchArgs();
const SPIN = !has('--no-spin');
const STEPS = flag('--steps', 24);
const B = flag('--batch', DEFAULT_RECIPE.pretrain.batchSize);
const THREADS = flag('--threads', 2);
const ROUNDS = flag('--rounds', 3);
const [groups, chunks] = (value('--blocks') ?? `${PACKED_BLOCKS.groups},${PACKED_BLOCKS.chunks}`)
  .split(',')
  .map(Number);

const config = parseDecoderConfig(backboneConfig(DEFAULT_RECIPE.backbone));
const weights = randomDecoderWeights(config, 1);
const batches = worldPretrainBatches(STEPS, B);

// Normal priority like the PyTorch-free benches: the machine is shared, all paths see the same load.
const runner = new Runner({ intraOpThreads: THREADS, nice: 5 });
const newRunner = SPIN ? new Runner({ intraOpThreads: THREADS, nice: 5, spinning: true }) : runner;
const model = { config, weights };
const programs = {} as Record<Arm, TrainProgram>;
for (const arm of ARMS)
  programs[arm] = await worldTrainProgram(arm === 'before' ? runner : newRunner, model, arm, {
    packedBlocks: { groups, chunks },
  });
const load0 = loadavg()[0];
const peak = await matmulPeak(runner);
const zero = () => ({ before: 0, padded: 0, packed: 0 });
const wall = zero();
const run = zero();
const losses = { before: [] as number[], padded: [] as number[], packed: [] as number[] };
// A runner's state (parameters, optimizer moments) is one per runner, so the paths take turns by
// whole passes over the batches, each from the same start, the order rotating round by round.
for (const p of Object.values(programs)) {
  await p.init(weights);
  await p.step([batches[0]], 1e-3); // warm-up, not timed
}
for (let round = 0; round < ROUNDS; round++) {
  for (const k of [...ARMS.slice(round % ARMS.length), ...ARMS.slice(0, round % ARMS.length)]) {
    await programs[k].init(weights);
    for (const batch of batches) {
      const t0 = performance.now();
      const r = await programs[k].step([batch], 1e-3);
      wall[k] += performance.now() - t0;
      run[k] += r.runMs;
      if (round === 0) losses[k].push(r.losses[0]);
    }
  }
}
await runner.close();
if (SPIN) await newRunner.close();
let tokens = 0;
let padded = 0;
let flops = 0;
for (const batch of batches) {
  tokens += batch.reduce((a, e) => a + len(e), 0);
  padded += batch.length * Math.max(...batch.map(len));
  flops += batch.reduce((a, e) => a + 3 * decoderForwardFlops(config, 1, len(e)), 0);
}

const steps = STEPS * ROUNDS;
console.log(
  `world backbone width ${config.hiddenSize}, ${config.numLayers} layers; ${STEPS} steps of ${B} pretraining examples (${tokens} tokens, ${(100 * (1 - tokens / padded)).toFixed(0)}% of the padded batches is padding), ${ROUNDS} rounds; ${THREADS} threads, ${SPIN ? 'padded and packed spinning, before not' : 'no spinning'}; matmul peak now ${peak.toFixed(0)} GFLOP/s; packed blocks ${groups} x ${chunks}`,
);
console.log('path      ms/step (wall)  in onnxruntime  tokens/s  GFLOP/s on unpadded tokens  speed-up over before');
for (const k of ARMS) {
  const ms = wall[k] / ROUNDS;
  console.log(
    `${k.padEnd(8)} ${(wall[k] / steps).toFixed(0).padStart(10)} ${(run[k] / steps).toFixed(0).padStart(15)} ${((tokens * 1000) / ms).toFixed(0).padStart(12)} ${(flops / ms / 1e6).toFixed(1).padStart(10)} (${(flops / ms / 1e6 / peak).toFixed(2)} of peak) ${(wall.before / wall[k]).toFixed(2).padStart(12)}x`,
  );
}
const diff = (k: Arm) => Math.max(...losses.before.map((l, i) => Math.abs(l - losses[k][i])));
console.log(
  `loss ${ARMS.map((k) => `${k} ${losses[k][0].toFixed(4)} -> ${losses[k][STEPS - 1].toFixed(4)}`).join(', ')}; largest step difference from before: padded ${diff('padded').toExponential(1)}, packed ${diff('packed').toExponential(1)}`,
);
console.log(`load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
