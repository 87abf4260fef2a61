import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { Graph } from '../engine/graph';
import * as op from '../engine/ops';
import { serializeModel } from '../engine/onnx';
import type { Runner } from '../engine/runner';

/** The ~10M-parameter byte-level Llama used by the model benches (the embedded world's scale). */
export function benchModel(seed = 1) {
  const raw = makeConfigJson({
    vocabSize: 259,
    hiddenSize: 384,
    intermediateSize: 1024,
    numLayers: 6,
    numHeads: 6,
    numKvHeads: 2,
    maxPositionEmbeddings: 4096,
  });
  const config = parseDecoderConfig(raw);
  return { raw, config, weights: randomDecoderWeights(config, seed, 0.05) };
}

export function paramCount(w: Record<string, { shape: number[] }>): number {
  return Object.values(w).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Runs bench/engine_torch_ref.py with a JSON task under `$TORCH_PYTHON` (default python3) and returns
 * its JSON. Throws when the reference cannot run (Python, PyTorch or transformers missing, or the
 * workload failing): a benchmark fails rather than printing a ratio without its reference. Pass
 * --no-torch to a benchmark to skip the reference (and every ratio) on purpose.
 */
export function torchRef(task: Record<string, unknown>): Record<string, unknown> {
  const script = fileURLToPath(new URL('./engine_torch_ref.py', import.meta.url));
  const python = process.env.TORCH_PYTHON ?? 'python3';
  // OpenMP threads that sleep when idle: with the default spin-wait a 2-thread PyTorch on this
  // 2-core machine, beside any other busy process, runs a 16 x 384 x 1024 Linear 4-14x slower than
  // one thread does (0.86-3.0 ms against 0.22 ms per call, measured with the pipeline running), so
  // its ratios measured the machine's load rather than PyTorch. onnxruntime's pool does not stall so.
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const r = spawnSync(python, [script, JSON.stringify(task)], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.error)
    throw new Error(
      `PyTorch reference: ${python} not runnable (${r.error.message}); set TORCH_PYTHON or pass --no-torch`,
    );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: Record<string, unknown> & { error?: string };
  try {
    out = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`PyTorch reference failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
  if (r.status !== 0 || out.error)
    throw new Error(
      `PyTorch reference failed (${python}): ${out.error ?? r.stderr.trim().split('\n').pop()}; set TORCH_PYTHON or pass --no-torch`,
    );
  return out;
}

/** One line naming the pinned reference: version, threads, dtype, attention implementation. */
export function torchLabel(t: Record<string, unknown>): string {
  return `PyTorch ${String(t.torch)}, ${String(t.threads)} threads (OMP_WAIT_POLICY ${String(t.omp_wait_policy)}), ${String(t.dtype)}, eager, attention ${String(t.attn)}`;
}

/** The command line of a benchmark: `flag('--x', d)` reads a number, `has('--x')` a switch. */
export function benchArgs() {
  const args = process.argv.slice(2);
  const at = (name: string) => args.indexOf(name);
  return {
    args,
    flag: (name: string, dflt: number) => (at(name) >= 0 ? Number(args[at(name) + 1]) : dflt),
    has: (name: string) => at(name) >= 0,
    value: (name: string) => (at(name) >= 0 ? args[at(name) + 1] : undefined),
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The memory read bandwidth onnxruntime reaches on this machine now, GB/s: row sums of 128 MiB
 * (more than the per-core caches hold), the best of 6 runs. Decoding at long KV lengths reads the whole cache per
 * token, so this bounds it as the matmul peak bounds compute.
 */
export async function streamBandwidth(runner: Runner): Promise<number> {
  const [rows, cols] = [4096, 8192];
  const g = new Graph();
  // Row sums, so both threads read (a sum of everything runs on one).
  g.output('s', op.reduceSum(g.input('x', 'float32', [rows, cols]), [1]));
  await runner.load('stream', serializeModel(g));
  const feeds = {
    x: { dtype: 'float32' as const, shape: [rows, cols], data: new Float32Array(rows * cols).fill(1e-3) },
  };
  const times: number[] = [];
  for (let i = 0; i < 6; i++) times.push((await runner.run('stream', feeds)).runMs);
  await runner.unload('stream');
  return (4 * rows * cols) / (Math.min(...times.slice(1)) / 1000) / 1e9;
}

/** This machine's matrix-multiply rate through onnxruntime-node right now (2048^3, scalar output), GFLOP/s. */
export async function matmulPeak(runner: Runner): Promise<number> {
  const n = 2048;
  const g = new Graph();
  const a = g.input('a', 'float32', [n, n]);
  const b = g.input('b', 'float32', [n, n]);
  g.output('s', op.reduceSum(op.matmul(a, b)));
  await runner.load('peak', serializeModel(g));
  const fill = (f: (i: number) => number) => Float32Array.from({ length: n * n }, (_, i) => f(i));
  const feeds = {
    a: { dtype: 'float32' as const, shape: [n, n], data: fill((i) => ((i % 7) - 3) * 0.01) },
    b: { dtype: 'float32' as const, shape: [n, n], data: fill((i) => ((i % 5) - 2) * 0.01) },
  };
  const times: number[] = [];
  for (let i = 0; i < 10; i++) times.push((await runner.run('peak', feeds)).runMs);
  await runner.unload('peak');
  return (2 * n ** 3) / (Math.min(...times.slice(1)) / 1000) / 1e9;
}
