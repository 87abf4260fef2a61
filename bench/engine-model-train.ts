/**
 * Train-step throughput of the SFT program on the ~10M-parameter byte-level Llama (never part of npm test):
 *   npx tsx bench/engine-model-train.ts [--threads N] [--steps-per-run K] [--quick] [--no-torch]
 * Full fine-tuning and LoRA (rank 16) at 16 x 128 tokens per step, K AdamW steps per run, tokens/s and
 * achieved GFLOP/s (3x the forward matmul FLOPs), bytes returned per run, and PyTorch (eager, float32, same
 * threads, forward + backward + clip + AdamW) on the same workload with the ratio, when installed.
 */
import { loadavg } from 'node:os';
import { Runner } from '../engine/runner';
import { TrainProgram } from '../engine/programs/train';
import { decoderForwardFlops } from '../engine/model';
import { initLoraWeights, loraConfig } from '../engine/lora';
import { benchArgs, benchModel, matmulPeak, paramCount, torchLabel, torchRef } from './engine-model-common';

const { args, flag } = benchArgs();
const THREADS = flag('--threads', 2);
const K = flag('--steps-per-run', 4);
const QUICK = args.includes('--quick');
const RUNS = QUICK ? 2 : 4;
const B = 16;
const T = 128;

const m = benchModel();
// Normal priority (the Runner defaults to nice 10): the PyTorch reference runs at 0 on this shared machine.
const runner = new Runner({ intraOpThreads: THREADS, nice: 0 });
console.log(
  `model: ${(paramCount(m.weights) / 1e6).toFixed(1)}M params; batch ${B} x ${T} tokens; ${K} steps per run; ${THREADS} threads; load ${loadavg()[0].toFixed(2)}`,
);
const examples = Array.from({ length: B }, (_, i) => ({
  prompt: Array.from({ length: 32 }, (_, j) => 3 + ((i * 13 + j * 7) % 250)),
  target: Array.from({ length: T - 32 }, (_, j) => 3 + ((i * 5 + j * 11) % 250)),
}));
const flops = 3 * decoderForwardFlops(m.config, B, T);

async function measure(label: string, lora: boolean): Promise<number> {
  const lc = loraConfig({ rank: 16, alpha: 32 });
  const t = await TrainProgram.create(runner, m, { objective: 'sft', lora: lora ? lc : undefined, name: label });
  await t.init(lora ? initLoraWeights(m.config, lc, 1) : m.weights);
  await t.step([examples], 1e-4);
  const per: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await t.step(
      Array.from({ length: K }, () => examples),
      1e-4,
    );
    per.push((performance.now() - t0) / K);
  }
  const ms = Math.min(...per);
  const r = await runner.run(label, {}, { fetch: [] }).catch(() => undefined);
  bytes = r?.outputBytes ?? 0;
  console.log(
    `${label.padEnd(10)} ${ms.toFixed(0).padStart(6)} ms/step  ${((B * T * 1000) / ms).toFixed(0).padStart(6)} tokens/s  ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s (${(flops / ms / 1e6 / peak).toFixed(2)} of peak)${bytes ? `  ${(bytes / 1e6).toFixed(1)} MB returned per run` : ''}`,
  );
  await runner.unload(label);
  return ms;
}

// The best of a run before the workloads (other processes on the machine make any single figure low).
const peak = await matmulPeak(runner);
console.log(`matrix-multiply peak through onnxruntime-node now (2048^3, best of 10): ${peak.toFixed(0)} GFLOP/s`);
const fullMs = await measure('full', false);
const loraMs = await measure('lora r16', true);
await runner.close();
const torch: Record<string, unknown> = args.includes('--no-torch')
  ? { error: 'skipped (--no-torch)' }
  : torchRef({ task: 'train', threads: THREADS, config: m.raw, batch: B, seq: T, steps: QUICK ? 2 : 4 });
if (torch.error) console.log(`PyTorch comparison not run: ${String(torch.error)}`);
else {
  const tm = (torch.train as { ms_per_step: number }).ms_per_step;
  console.log(
    `torch full ${tm.toFixed(0).padStart(6)} ms/step  ${((B * T * 1000) / tm).toFixed(0).padStart(6)} tokens/s  (${torchLabel(torch)})`,
  );
  console.log(`ours/torch speed: full ${(tm / fullMs).toFixed(2)}, LoRA vs torch full ${(tm / loraMs).toFixed(2)}`);
}
console.log(`load average at the end: ${loadavg()[0].toFixed(2)} (other processes on this machine skew both sides)`);
