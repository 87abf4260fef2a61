/**
 * Sampling over a real vocabulary (never part of npm test):
 *   npx tsx bench/engine-sampling.ts [--threads N] [--batch B] [--layers L] [--quick]
 * A Qwen2-0.5B-shaped model (width 896, 24 layers, 14/2 heads, MLP 4864, vocabulary 151,936, tied
 * embeddings, random weights): its decode time per token at batch B (the slope between 4 and 12 new
 * tokens after a 32-token prompt, temperature 1), and the time of the sampling step alone (the
 * generate program's sampleToken on [B, 151936] logits) for greedy, top-p 1, top-p 0.9 from the
 * candidates (a peaked distribution) and from the wide nucleus's bisection (a flat one), beside the previous method
 * (a sort of the whole vocabulary at every step, greedy included), each as a share of the decode step.
 */
import { loadavg } from 'node:os';
import { Graph, type Tensor, type TensorData } from '../engine/graph';
import * as op from '../engine/ops';
import { serializeModel } from '../engine/onnx';
import { Runner } from '../engine/runner';
import { GenerateProgram, sampleFromSorted, sampleToken, temperatureLogprobs } from '../engine/programs/generate';
import { benchArgs } from './engine-model-common';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../engine/model';

const { args, flag } = benchArgs();
const THREADS = flag('--threads', 2);
const B = flag('--batch', 1);
const LAYERS = flag('--layers', 24);
const V = 151936;
const load0 = loadavg()[0];

/** The method this replaced: TopK over the whole vocabulary at every step, greedy included. */
function sampleTokenFullSort(logits: Tensor, u: Tensor, temperature: Tensor, topP: Tensor): Tensor {
  const { greedy, logp } = temperatureLogprobs(logits, temperature);
  const [vals, idx] = op.topK(logp, V, -1, true, true);
  const sampled = sampleFromSorted(op.exp(vals), idx, u, topP);
  const token = op.where(greedy, op.argMax(logits, -1), sampled);
  return op.squeeze(op.gatherElements(logp, op.unsqueeze(token, [1]), 1), [1]);
}

const runner = new Runner({ intraOpThreads: THREADS, nice: 0 });
for (const [name, build] of [
  ['new', (g: Graph, l: Tensor, u: Tensor, t: Tensor, p: Tensor) => sampleToken(l, u, t, p, V).logp],
  ['old', (g: Graph, l: Tensor, u: Tensor, t: Tensor, p: Tensor) => sampleTokenFullSort(l, u, t, p)],
] as const) {
  const g = new Graph(name);
  const l = g.input('logits', 'float32', [B, V]);
  const u = g.input('u', 'float32', [B]);
  const t = g.input('temperature', 'float32', []);
  const p = g.input('top_p', 'float32', []);
  g.output('logp', build(g, l, u, t, p));
  await runner.load(`sample-${name}`, serializeModel(g));
}
let s = 7;
const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
// Peaked: a language model's confident step (the top-p 0.9 nucleus within a few tokens); flat: its
// most uncertain kind (the nucleus spans most of the vocabulary, so the wide-nucleus bisection runs).
const peaked = Float32Array.from({ length: B * V }, (_, i) => 2 * gauss() + (i % V < 5 ? 25 - 3 * (i % V) : 0));
const flat = Float32Array.from({ length: B * V }, () => 0.3 * gauss());
const f32 = (shape: number[], d: Float32Array): TensorData => ({ dtype: 'float32', shape, data: d });
async function timeSample(name: string, logits: Float32Array, temperature: number, topP: number): Promise<number> {
  const feeds = {
    logits: f32([B, V], logits),
    u: f32(
      [B],
      Float32Array.from({ length: B }, () => rnd()),
    ),
    temperature: f32([], Float32Array.of(temperature)),
    top_p: f32([], Float32Array.of(topP)),
  };
  const ts: number[] = [];
  for (let i = 0; i < 31; i++) ts.push((await runner.run(`sample-${name}`, feeds)).runMs); // best of 30: this machine is shared
  return Math.min(...ts.slice(1));
}
const cases: [string, Float32Array, number, number][] = [
  ['greedy', peaked, 0, 1],
  ['top-p 1 (temperature 1)', flat, 1, 1],
  ['top-p 0.9, peaked (candidates)', peaked, 1, 0.9],
  ['top-p 0.9, flat (wide nucleus)', flat, 1, 0.9],
];
const sampling = [];
for (const [label, lg, t, p] of cases)
  sampling.push({ label, now: await timeSample('new', lg, t, p), before: await timeSample('old', lg, t, p) });

const raw = makeConfigJson({
  modelType: 'qwen2',
  vocabSize: V,
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: LAYERS,
  numHeads: 14,
  numKvHeads: 2,
  tieWordEmbeddings: true,
  maxPositionEmbeddings: 4096,
  ropeTheta: 1e6,
});
const config = parseDecoderConfig(raw);
const t0 = performance.now();
const gen = await GenerateProgram.create(
  runner,
  { config, weights: randomDecoderWeights(config, 1, 0.02) },
  { eos: [] },
);
console.log(
  `Qwen2-0.5B-shaped model (${LAYERS} layers, vocabulary ${V}), batch ${B}, ${THREADS} threads: built and loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s; load ${load0.toFixed(2)}`,
);
const reqs = Array.from({ length: B }, (_, i) => ({
  id: `r${i}`,
  prompt: Array.from({ length: 32 }, (_, j) => 100 + i * 7 + j),
}));
const o = { temperature: 1, topP: 1, seed: 1, eos: [] };
await gen.run(reqs, { ...o, maxNewTokens: 2 });
const best = async (n: number) => {
  const ts: number[] = [];
  for (let r = 0; r < (args.includes('--quick') ? 1 : 2); r++) {
    const t = performance.now();
    await gen.run(reqs, { ...o, maxNewTokens: n });
    ts.push(performance.now() - t);
  }
  return Math.min(...ts);
};
const a = await best(4);
const b = await best(12);
const step = (b - a) / 8;
await runner.close();
console.log(`decode time per token (slope 4 -> 12 new tokens): ${step.toFixed(1)} ms`);
console.log('\nsampling step alone          | now ms | share of a decode step | before (full sort) ms | share');
for (const x of sampling)
  console.log(
    `${x.label.padEnd(28)} | ${x.now.toFixed(2).padStart(6)} | ${((100 * x.now) / step).toFixed(1).padStart(21)}% | ${x.before.toFixed(2).padStart(21)} | ${((100 * x.before) / step).toFixed(1).padStart(4)}%`,
  );
console.log(`load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
