/**
 * onnxruntime's per-op profile of one program run (never part of npm test):
 *   npx tsx bench/engine-profile.ts generate [--width 384|128] [--batch B] [--prompt P] [--new N] [--lora R]
 *        [--top-p X] [--temperature X] [--vocab V] [--nodes K]
 *   npx tsx bench/engine-profile.ts train [--width 128|384] [--batch B] [--seq T] [--lora R] [--packed] [--nodes K]
 *        [--world N]
 * --dump FILE writes the run's node events (onnxruntime's profile JSON, last run only) to FILE.
 * Width 384 is the benches' ~10M-parameter Llama (bench/engine-model-common.ts); width 128 is the
 * embedded world's backbone (world/recipe.ts). --world N trains on the world's pretraining batch N
 * (bench/world-batches.ts, 0 to 23; batch 0 is short, 2 is long) instead of B examples of T tokens. Prints the kernel time per op type of the last of
 * two runs (the first warms up), and the K slowest nodes. Without an argument it profiles nothing
 * and prints this usage.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { GenerateProgram } from '../engine/programs/generate';
import { TrainProgram } from '../engine/programs/train';
import { initLoraWeights, loraConfig } from '../engine/lora';
import { ProfilingRunner, profileTable } from './profile-runner';
import { benchArgs } from './engine-model-common';
import { exampleLength, worldPretrainBatches } from './world-batches';

const { args, flag, value } = benchArgs();
const mode = args[0];
if (mode !== 'generate' && mode !== 'train') {
  console.log('usage: engine-profile.ts generate|train [options] (see the header)');
  process.exit(0);
}
const width = flag('--width', mode === 'train' ? 128 : 384);
const vocab = flag('--vocab', 259);
const shape =
  width === 128
    ? { hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, numKvHeads: 2 }
    : { hiddenSize: 384, intermediateSize: 1024, numLayers: 6, numHeads: 6, numKvHeads: 2 };
const raw = makeConfigJson({ vocabSize: vocab, maxPositionEmbeddings: 4096, ...shape });
const config = parseDecoderConfig(raw);
const model = { config, weights: randomDecoderWeights(config, 1, 0.05) };
const rank = flag('--lora', 0);
const lc = rank ? loraConfig({ rank, alpha: 2 * rank }) : undefined;
const runner = new ProfilingRunner(flag('--threads', 2));
const nodes = flag('--nodes', 15);
const load0 = loadavg()[0];
const dump = value('--dump');
function report(events: Parameters<typeof profileTable>[0], top: number) {
  if (dump) writeFileSync(dump, JSON.stringify(events));
  console.log(profileTable(events, top, nodes));
}

if (mode === 'generate') {
  const B = flag('--batch', 16);
  const P = flag('--prompt', 64);
  const N = flag('--new', 64);
  const gen = await GenerateProgram.create(runner.asRunner(), model, { eos: [], lora: lc, name: 'gen' });
  if (lc) await gen.setAdapter(initLoraWeights(config, lc, 1));
  const reqs = Array.from({ length: B }, (_, i) => ({
    id: `r${i}`,
    prompt: Array.from({ length: P }, (_, j) => 3 + ((i * 31 + j * 17) % 250)),
  }));
  const o = { maxNewTokens: N, temperature: flag('--temperature', 1), topP: flag('--top-p', 1), eos: [] };
  await gen.run(reqs, { ...o, seed: 1 });
  const t0 = performance.now();
  await gen.run(reqs, { ...o, seed: 2 });
  const ms = performance.now() - t0;
  console.log(
    `generate width ${width}, vocab ${vocab}, batch ${B}, prompt ${P}, ${N} new tokens${lc ? `, LoRA r${rank}` : ''}, temperature ${o.temperature}, top-p ${o.topP}: ${ms.toFixed(0)} ms (${(ms / N).toFixed(2)} ms/token, profiler on); load ${load0.toFixed(2)}`,
  );
  report(await runner.profile('gen'), 20);
} else {
  const B = flag('--batch', 32);
  const T = flag('--seq', 128);
  const packed = args.includes('--packed');
  const tp = await TrainProgram.create(runner.asRunner(), model, {
    objective: 'sft',
    lora: lc,
    packed,
    singleStep: true,
    name: 'train',
  });
  await tp.init(lc ? initLoraWeights(config, lc, 1) : model.weights);
  const world = value('--world');
  const examples = world
    ? worldPretrainBatches(24, 32)[Number(world)]
    : Array.from({ length: B }, (_, i) => ({
        prompt: Array.from({ length: 16 }, (_, j) => 3 + ((i * 13 + j * 7) % 250)),
        target: Array.from({ length: T - 16 }, (_, j) => 3 + ((i * 5 + j * 11) % 250)),
      }));
  const shapeText = world
    ? `world batch ${world} (${examples.length} examples, ${examples.reduce((a, e) => a + exampleLength(e), 0)} tokens)`
    : `${B} x ${T} tokens`;
  await tp.step([examples], 1e-4);
  const t0 = performance.now();
  await tp.step([examples], 1e-4);
  const ms = performance.now() - t0;
  console.log(
    `train step (SFT, AdamW, clip) width ${width}, ${shapeText}${lc ? `, LoRA r${rank}` : ', full'}${packed ? ', packed' : ''}: ${ms.toFixed(0)} ms (profiler on); load ${load0.toFixed(2)}`,
  );
  report(await runner.profile('train'), 25);
}
console.log(`load average at the end: ${loadavg()[0].toFixed(2)}`);
