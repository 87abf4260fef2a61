/**
 * The embedded world's width-128 train step, padded (the default) against packed rows
 * (TrainProgramOptions.packed), in one run on the same batches (never part of npm test):
 *   npx tsx bench/engine-world-train.ts [--steps N] [--batch B] [--threads N]
 * The batches are the world's pretraining stream as the default recipe cuts it (batch 32, random
 * batches in two length buckets, up to and above 128 tokens), on the recipe's backbone shape with
 * random weights. The two programs alternate step by step (which one goes first alternates too), each
 * on its own runner, so load on this shared machine hits both alike. Throughput counts unpadded
 * tokens and the FLOPs of the unpadded examples (3x the forward matmul FLOPs of each example at its
 * own length); the losses of both paths are printed side by side (same start, same batches).
 */
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import { TrainProgram, type SftExample } from '../engine/programs/train';
import { decoderForwardFlops, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { TextTokenizer, byteLevelTokenizerFiles } from '../engine/tokenizer';
import { DEFAULT_RECIPE, backboneConfig } from '../world/recipe';
import { makeWorld, pretrainItemAt } from '../world/world';
import { LengthGroupedBatches } from '../training/batches';
import { benchArgs, matmulPeak } from './engine-model-common';

const { flag } = benchArgs();
const STEPS = flag('--steps', 24);
const B = flag('--batch', DEFAULT_RECIPE.pretrain.batchSize);
const THREADS = flag('--threads', 2);
const FORMAT = 'Problem:\n{question}\n\nAnswer:\n';

const config = parseDecoderConfig(backboneConfig(DEFAULT_RECIPE.backbone));
const weights = randomDecoderWeights(config, 1);
const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const tok = new TextTokenizer(tokenizerJson, tokenizerConfig);
const world = makeWorld(0);
const pool = Array.from({ length: STEPS * B * 4 }, (_, i): SftExample => {
  const it = pretrainItemAt(world, 0, i);
  return {
    prompt: tok.encode(FORMAT.replace('{question}', it.question)),
    target: [...tok.encode(it.answer, { addSpecialTokens: false }), 258],
  };
});
const len = (e: SftExample) => e.prompt.length + e.target.length;
const order = new LengthGroupedBatches(pool.map(len), B, 0, 1, DEFAULT_RECIPE.pretrain.lengthBuckets);
const batches = Array.from({ length: STEPS }, () => order.next().map((i) => pool[i]));

// Normal priority like the PyTorch-free benches: the machine is shared, both paths see the same load.
const runners = {
  padded: new Runner({ intraOpThreads: THREADS, nice: 5 }),
  packed: new Runner({ intraOpThreads: THREADS, nice: 5 }),
};
const programs = {
  padded: await TrainProgram.create(runners.padded, { config, weights }, { objective: 'sft', name: 'padded' }),
  packed: await TrainProgram.create(
    runners.packed,
    { config, weights },
    { objective: 'sft', packed: true, name: 'packed' },
  ),
};
const load0 = loadavg()[0];
const peak = await matmulPeak(runners.padded);
for (const p of Object.values(programs)) {
  await p.init(weights);
  await p.step([batches[0]], 1e-3); // warm-up (not timed), then back to the same start
  await p.init(weights);
}
const ms = { padded: 0, packed: 0 };
const losses = { padded: [] as number[], packed: [] as number[] };
let tokens = 0;
let padded = 0;
let flops = 0;
for (const [s, batch] of batches.entries()) {
  const pair = s % 2 ? (['packed', 'padded'] as const) : (['padded', 'packed'] as const);
  for (const k of pair) {
    const r = await programs[k].step([batch], 1e-3);
    ms[k] += r.runMs;
    losses[k].push(r.losses[0]);
  }
  tokens += batch.reduce((a, e) => a + len(e), 0);
  padded += batch.length * Math.max(...batch.map(len));
  flops += batch.reduce((a, e) => a + 3 * decoderForwardFlops(config, 1, len(e)), 0);
}
await Promise.all(Object.values(runners).map((r) => r.close()));

console.log(
  `world backbone width ${config.hiddenSize}, ${config.numLayers} layers; ${STEPS} steps of ${B} pretraining examples (${tokens} tokens, ${(100 * (1 - tokens / padded)).toFixed(0)}% of the padded batches is padding); ${THREADS} threads; matmul peak now ${peak.toFixed(0)} GFLOP/s`,
);
for (const k of ['padded', 'packed'] as const)
  console.log(
    `${k.padEnd(7)} ${(ms[k] / STEPS).toFixed(0).padStart(6)} ms/step  ${((tokens * 1000) / ms[k]).toFixed(0).padStart(6)} tokens/s  ${(flops / ms[k] / 1e6).toFixed(1).padStart(5)} GFLOP/s on unpadded tokens (${(flops / ms[k] / 1e6 / peak).toFixed(2)} of peak)`,
  );
console.log(`packed / padded speed: ${(ms.padded / ms.packed).toFixed(2)}x`);
const diff = Math.max(...losses.padded.map((l, i) => Math.abs(l - losses.packed[i])));
console.log(
  `loss padded ${losses.padded[0].toFixed(4)} -> ${losses.padded[STEPS - 1].toFixed(4)}, packed ${losses.packed[0].toFixed(4)} -> ${losses.packed[STEPS - 1].toFixed(4)}; largest step difference ${diff.toExponential(1)}`,
);
console.log(`load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
