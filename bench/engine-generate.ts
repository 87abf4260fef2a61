/**
 * Generation throughput of the compiled generate program (never part of npm test):
 *   npx tsx bench/engine-generate.ts [--threads N] [--quick] [--no-torch] [--no-rollout]
 * On the benches' ~10M-parameter byte-level Llama (width 384): generation time at batch 1, 16 and 64
 * (prompt 64, 64 new tokens, sampling at temperature 1, one run per batch) and its share of this
 * machine's matmul peak at batch 64; decode time per token at KV length 32, 128 and 512 at batch 16
 * and 64 (--kv-batches 16,64; the slope between 8 and 72 new tokens), with what the longer caches' extra bytes
 * would cost at this machine's memory read bandwidth. On the embedded world's width-128 backbone: the GRPO
 * rollout shape (a rank-16 LoRA adapter on every linear layer as program inputs, batch 40, prompt
 * 200, 100 new tokens). Each beside the pinned PyTorch reference of bench/engine_torch_ref.py
 * (`$TORCH_PYTHON`, same threads, float32, eager, SDPA attention, torch.inference_mode, transformers'
 * generate; PEFT LoRA for the rollout), speed-up = PyTorch's time / ours, all in this one run. The
 * benchmark fails when the reference cannot run (--no-torch skips it and every ratio).
 */
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import { GenerateProgram } from '../engine/programs/generate';
import { decoderForwardFlops, makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import type { DecoderConfig } from '../engine/model';
import { initLoraWeights, loraConfig } from '../engine/lora';
import {
  benchArgs,
  benchModel,
  matmulPeak,
  paramCount,
  streamBandwidth,
  torchLabel,
  torchRef,
} from './engine-model-common';

const { args, flag, has } = benchArgs();
const QUICK = has('--quick');
const THREADS = flag('--threads', 2);
const REPS = QUICK ? 2 : 3;
const NEW = QUICK ? 32 : 64;
const ROLLOUT = !args.includes('--no-rollout');
const load0 = loadavg()[0];

const m = benchModel();
// Normal priority (the Runner defaults to nice 10): the PyTorch reference runs at 0 on this shared machine.
const runner = new Runner({ intraOpThreads: THREADS, nice: 0 });
const peak = await matmulPeak(runner);
const stream = await streamBandwidth(runner);
const gen = await GenerateProgram.create(runner, m, { eos: [] });
console.log(
  `model: llama ${m.config.numLayers} layers, width ${m.config.hiddenSize}, ${m.config.numHeads}/${m.config.numKvHeads} heads, vocab ${m.config.vocabSize}, ${(paramCount(m.weights) / 1e6).toFixed(1)}M params; ${THREADS} threads; matmul peak now ${peak.toFixed(0)} GFLOP/s, memory read ${stream.toFixed(1)} GB/s; load ${load0.toFixed(2)}`,
);

const prompts = (b: number, p: number) =>
  Array.from({ length: b }, (_, i) => ({
    id: `r${i}`,
    prompt: Array.from({ length: p }, (_, j) => 3 + ((i * 31 + j * 17) % 250)),
  }));

async function timeRun(g: GenerateProgram, b: number, p: number, n: number, reps = REPS): Promise<number> {
  const reqs = prompts(b, p);
  await g.run(reqs, { maxNewTokens: Math.min(n, 2), temperature: 1, seed: 1, eos: [] });
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = await g.run(reqs, { maxNewTokens: n, temperature: 1, seed: r, eos: [] });
    ts.push(performance.now() - t0);
    if (out.tokens[0].length !== n) throw new Error('generation ended early');
  }
  return Math.min(...ts);
}

/** Matmul FLOPs of generating n tokens after a p-token prompt at batch b (prefill, then one token per step). */
function generateFlops(c: DecoderConfig, b: number, p: number, n: number): number {
  let f = decoderForwardFlops(c, b, p);
  const q = c.numHeads * c.headDim;
  const one = decoderForwardFlops(c, b, 1) - 2 * 2 * b * q * c.numLayers; // without its 1-slot attention
  for (let t = 0; t < n - 1; t++) f += one + c.numLayers * 2 * 2 * b * (p + t + 1) * q;
  return f;
}

const batches = [1, 16, 64];
const ours: { batch: number; ms: number }[] = [];
for (const b of batches) ours.push({ batch: b, ms: await timeRun(gen, b, 64, NEW) });
const kvLens = QUICK ? [32, 512] : [32, 128, 512];
const kvBatches = (benchArgs().value('--kv-batches') ?? '16,64').split(',').map(Number);
const decode: { batch: number; prompt: number; msPerToken: number }[] = [];
for (const b of kvBatches)
  for (const p of kvLens) {
    const t1 = await timeRun(gen, b, p, 8);
    const tN = await timeRun(gen, b, p, 72);
    decode.push({ batch: b, prompt: p, msPerToken: (tN - t1) / 64 });
  }

// The GRPO rollout: the world's backbone with a LoRA adapter as program inputs.
const R = { batch: 40, prompt: 200, new: QUICK ? 50 : 100, rank: 16 };
const worldRaw = makeConfigJson({
  vocabSize: 259,
  hiddenSize: 128,
  intermediateSize: 352,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  maxPositionEmbeddings: 4096,
});
let rolloutMs: number | undefined;
if (ROLLOUT) {
  const wc = parseDecoderConfig(worldRaw);
  const lc = loraConfig({ rank: R.rank, alpha: 2 * R.rank });
  const rg = await GenerateProgram.create(
    runner,
    { config: wc, weights: randomDecoderWeights(wc, 1, 0.05) },
    { eos: [], lora: lc, name: 'rollout' },
  );
  const lw = initLoraWeights(wc, lc, 1);
  // A trained-looking adapter (B = 0 at initialisation would make the LoRA path a no-op).
  for (const [k, v] of Object.entries(lw))
    if (k.includes('lora_B')) (v.data as Float32Array).forEach((_, i, a) => (a[i] = 0.02 * Math.sin(i + 1)));
  await rg.setAdapter(lw);
  rolloutMs = await timeRun(rg, R.batch, R.prompt, R.new, QUICK ? 1 : 2);
}
await runner.close();

const torch: Record<string, unknown> = args.includes('--no-torch')
  ? {}
  : torchRef({
      task: 'generate',
      threads: THREADS,
      config: m.raw,
      runs: [
        ...batches.map((b) => [b, 64, NEW]),
        ...kvBatches.flatMap((b) =>
          kvLens.flatMap((p) => [
            [b, p, 8],
            [b, p, 72],
          ]),
        ),
      ],
    });
const torchRollout: Record<string, unknown> =
  args.includes('--no-torch') || !ROLLOUT
    ? {}
    : torchRef({
        task: 'generate',
        threads: THREADS,
        config: worldRaw,
        lora: R.rank,
        reps: QUICK ? 1 : 2,
        runs: [[R.batch, R.prompt, R.new]],
      });
type Row = { batch: number; prompt: number; new: number; ms: number };
const tg = [...((torch.generate as Row[] | undefined) ?? [])];
const tms = (b: number, p: number, n: number) => tg.find((x) => x.batch === b && x.prompt === p && x.new === n)?.ms;
const fx = (x: number | undefined, d: number, w: number) => (x === undefined ? '-' : x.toFixed(d)).padStart(w);

console.log(
  `\ngeneration, prompt 64 + ${NEW} new tokens, temperature 1 (tokens/s counts new tokens; time includes prefill):`,
);
console.log('batch | ours ms | ours tok/s | share of matmul peak | torch ms | torch tok/s | speed-up');
for (const o of ours) {
  const t = tms(o.batch, 64, NEW);
  const share = generateFlops(m.config, o.batch, 64, NEW) / (o.ms / 1000) / 1e9 / peak;
  console.log(
    `${String(o.batch).padStart(5)} | ${fx(o.ms, 0, 7)} | ${fx((o.batch * NEW * 1000) / o.ms, 0, 10)} | ${fx(share, 3, 20)} | ${fx(t, 0, 8)} | ${fx(t && (o.batch * NEW * 1000) / t, 0, 11)} | ${fx(t && t / o.ms, 2, 8)}`,
  );
}
console.log('\ndecode time per token against KV length (slope between 8 and 72 new tokens):');
// Each token reads every layer's cached keys and values: what KV positions beyond the shortest cost
// at best is their bytes at the memory read bandwidth (the attention's FLOPs are ~1 per byte).
const kvBytes = (b: number, positions: number) =>
  2 * m.config.numLayers * b * m.config.numKvHeads * m.config.headDim * 4 * positions;
console.log(
  'batch | kv len | ours ms/token | vs kv 32 | extra KV MB/token | extra ms/token | its GB/s | vs kv 32 at memory bandwidth | torch ms/token | speed-up',
);
for (const d of decode) {
  const a = tms(d.batch, d.prompt, 8);
  const b = tms(d.batch, d.prompt, 72);
  const t = a !== undefined && b !== undefined ? (b - a) / 64 : undefined;
  const first = decode.find((x) => x.batch === d.batch)!;
  const extraBytes = kvBytes(d.batch, d.prompt - first.prompt);
  const extraMs = d.msPerToken - first.msPerToken;
  const floor = (first.msPerToken + extraBytes / (stream * 1e6)) / first.msPerToken;
  console.log(
    `${String(d.batch).padStart(5)} | ${String(d.prompt).padStart(6)} | ${fx(d.msPerToken, 2, 13)} | ${fx(d.msPerToken / first.msPerToken, 2, 8)} | ${fx(extraBytes / 1e6, 1, 17)} | ${fx(extraMs, 2, 14)} | ${fx(extraMs > 0 ? extraBytes / extraMs / 1e6 : undefined, 1, 8)} | ${fx(floor, 2, 28)} | ${fx(t, 2, 14)} | ${fx(t && t / d.msPerToken, 2, 8)}`,
  );
}
if (rolloutMs !== undefined) {
  const t = (torchRollout.generate as Row[] | undefined)?.[0]?.ms;
  console.log(
    `\nGRPO rollout shape (width 128, vocab 259, LoRA r${R.rank} on every linear layer as inputs, batch ${R.batch}, prompt ${R.prompt}, ${R.new} new tokens):`,
  );
  console.log(
    `ours ${rolloutMs.toFixed(0)} ms (${((R.batch * R.new * 1000) / rolloutMs).toFixed(0)} tok/s) | torch (PEFT) ${fx(t, 0, 0)} ms | speed-up ${fx(t && t / rolloutMs, 2, 0)}`,
  );
}
if (torch.torch) console.log(`\n${torchLabel(torch)}, torch.inference_mode, transformers generate (KV cache).`);
else console.log('\nPyTorch reference skipped (--no-torch): no ratios.');
console.log(
  `load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (other processes on this machine skew both sides)`,
);
