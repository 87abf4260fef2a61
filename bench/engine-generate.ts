/**
 * Generation throughput of the compiled generate program (never part of npm test):
 *   npx tsx bench/engine-generate.ts [--threads N] [--cache-chunk C] [--quick] [--no-torch]
 * For the ~10M-parameter byte-level Llama of the embedded world: tokens/s at batch 1, 16 and 64
 * (prompt 64, new tokens 64, sampling at temperature 1, all in one run per batch), decode time per
 * token against KV length, and the same workloads in PyTorch (eager, float32, same threads,
 * transformers' generate with its KV cache) with the ratio, when PyTorch is installed.
 */
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import { GenerateProgram } from '../engine/programs/generate';
import { benchModel, median, paramCount, torchRef } from './engine-model-common';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const THREADS = flag('--threads', 2);
const QUICK = args.includes('--quick');
const REPS = QUICK ? 2 : 3;
const NEW = QUICK ? 32 : 64;
const CHUNK = flag('--cache-chunk', 1);

const m = benchModel();
const runner = new Runner({ intraOpThreads: THREADS });
const gen = await GenerateProgram.create(runner, m, { eos: [], cacheChunk: CHUNK });
console.log(
  `model: llama ${m.config.numLayers} layers, width ${m.config.hiddenSize}, ${m.config.numHeads}/${m.config.numKvHeads} heads, vocab ${m.config.vocabSize}, ${(paramCount(m.weights) / 1e6).toFixed(1)}M params; ${THREADS} threads; KV-cache chunk ${CHUNK}; load ${loadavg()[0].toFixed(2)}`,
);

async function timeRun(b: number, p: number, n: number): Promise<number> {
  const reqs = Array.from({ length: b }, (_, i) => ({
    id: `r${i}`,
    prompt: Array.from({ length: p }, (_, j) => 3 + ((i * 31 + j * 17) % 250)),
  }));
  await gen.run(reqs, { maxNewTokens: Math.min(n, 2), temperature: 1, seed: 1, eos: [] });
  const ts: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    const out = await gen.run(reqs, { maxNewTokens: n, temperature: 1, seed: r, eos: [] });
    ts.push(performance.now() - t0);
    if (out.tokens[0].length !== n) throw new Error('generation ended early');
  }
  return Math.min(...ts);
}

const batches = [1, 16, 64];
const ours: { batch: number; ms: number }[] = [];
for (const b of batches) ours.push({ batch: b, ms: await timeRun(b, 64, NEW) });
const kvLens = QUICK ? [32, 256] : [32, 128, 512];
const decode: { prompt: number; msPerToken: number }[] = [];
// Per-token decode time: the slope between 8 and 72 new tokens (whole cache chunks, so no padding).
for (const p of kvLens) {
  const t1 = await timeRun(16, p, 8);
  const tN = await timeRun(16, p, 72);
  decode.push({ prompt: p, msPerToken: (tN - t1) / 64 });
}
await runner.close();

const torch = args.includes('--no-torch')
  ? { error: 'skipped (--no-torch)' }
  : torchRef({
      task: 'generate',
      threads: THREADS,
      config: m.raw,
      runs: [
        ...batches.map((b) => [b, 64, NEW]),
        ...kvLens.flatMap((p) => [
          [16, p, 8],
          [16, p, 72],
        ]),
      ],
    });
const tg = (torch.generate as { batch: number; prompt: number; new: number; ms: number }[] | undefined) ?? [];
const tms = (b: number, p: number, n: number) => tg.find((x) => x.batch === b && x.prompt === p && x.new === n)?.ms;

console.log(
  `\ngeneration, prompt 64 + ${NEW} new tokens, temperature 1 (tokens/s counts new tokens; time includes prefill):`,
);
console.log('batch | ours ms | ours tok/s | torch ms | torch tok/s | ours/torch speed');
for (const o of ours) {
  const t = tms(o.batch, 64, NEW);
  const tps = (o.batch * NEW * 1000) / o.ms;
  const ttps = t ? (o.batch * NEW * 1000) / t : undefined;
  console.log(
    `${String(o.batch).padStart(5)} | ${o.ms.toFixed(0).padStart(7)} | ${tps.toFixed(0).padStart(10)} | ${t ? t.toFixed(0).padStart(8) : '       -'} | ${ttps ? ttps.toFixed(0).padStart(11) : '          -'} | ${ttps ? (tps / ttps).toFixed(2) : '-'}`,
  );
}
console.log('\ndecode time per token (batch 16) against KV length:');
console.log('kv len | ours ms/token | torch ms/token | ours/torch speed');
for (const d of decode) {
  const a = tms(16, d.prompt, 8);
  const b = tms(16, d.prompt, 72);
  const t = a !== undefined && b !== undefined ? (b - a) / 64 : undefined;
  console.log(
    `${String(d.prompt).padStart(6)} | ${d.msPerToken.toFixed(2).padStart(13)} | ${t ? t.toFixed(2).padStart(14) : '             -'} | ${t ? (t / d.msPerToken).toFixed(2) : '-'}`,
  );
}
if (torch.error) console.log(`\nPyTorch comparison not run: ${torch.error}`);
else
  console.log(
    `\nPyTorch ${String(torch.torch)} with ${String(torch.threads)} threads, eager float32, transformers generate (KV cache).`,
  );
console.log(`load average at the end: ${loadavg()[0].toFixed(2)} (other processes on this machine skew both sides)`);
void median;
