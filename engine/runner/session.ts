import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DType, TensorData } from '../graph';
import { parseDevice as parseDeviceName } from '../../schemas/devices';

export interface SessionOptions {
  /** 'cpu' (default) or 'cuda:N'. */
  device?: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle intra-op threads spin-wait for work (onnxruntime's default; `Runner` defaults to false).
   * Spinning shaves latency off small kernels on an idle machine, but burns the cores an event loop
   * (or anything else) on the same machine needs: on 2 shared cores a train step ran faster without.
   */
  spinning?: boolean;
  /**
   * onnxruntime's memory pattern (default on): buffers planned once per input shape and reused. A
   * train step whose shapes change from batch to batch (length-bucketed batches) replans and
   * re-faults its buffers on every new shape; off, kernels take buffers from the arena as they run
   * (TrainProgram turns it off: see there).
   */
  memoryPattern?: boolean;
}

export interface ParsedDevice {
  kind: 'cpu' | 'cuda';
  id: number;
}

export function parseDevice(device = 'cpu'): ParsedDevice {
  const d = parseDeviceName(device);
  return d.kind === 'cpu' ? { kind: 'cpu', id: 0 } : d;
}

/** Folder holding onnxruntime-node's native libraries. */
function ortBinDir(): string {
  const req = createRequire(import.meta.url);
  const pkg = dirname(req.resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Execution providers for a device. CUDA needs onnxruntime-node's CUDA provider library (installed by
 * its download script, with CUDA and cuDNN on the machine); without it we fail here, clearly,
 * instead of silently running on the CPU.
 */
export function executionProviders(device = 'cpu'): ort.InferenceSession.ExecutionProviderConfig[] {
  const d = parseDevice(device);
  if (d.kind === 'cpu') return ['cpu'];
  const lib = join(ortBinDir(), 'libonnxruntime_providers_cuda.so');
  if (process.platform !== 'linux' || !existsSync(lib))
    throw new Error(
      `device '${device}': the CUDA execution provider of onnxruntime-node is not installed (${lib} not found). ` +
        'Install onnxruntime-node with its CUDA binaries (its install script, ONNXRUNTIME_NODE_INSTALL_CUDA) on a machine with CUDA and cuDNN, or use device "cpu".',
    );
  return [{ name: 'cuda', deviceId: d.id } as ort.InferenceSession.ExecutionProviderConfig];
}

export async function createSession(
  model: Uint8Array | string,
  opts: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: executionProviders(opts.device),
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    ...(opts.interOpThreads ? { interOpNumThreads: opts.interOpThreads } : {}),
    ...(opts.memoryPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.spinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  };
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /com\.microsoft[\s\S]*tensor\(double\)/.test(msg)
      ? " (a float64 program hit one of onnxruntime's float32-only fused kernels: load it with graphOptimization: 'basic')"
      : '';
    throw new Error(`onnxruntime could not load the program on ${opts.device ?? 'cpu'}: ${msg}${hint}`);
  }
}

export function toOrt(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as ort.Tensor.DataType, t.shape);
}

export function fromOrt(t: ort.Tensor): TensorData {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as TensorData['data'] };
}

/** Runs a session synchronously-in-effect (the promise only defers onnxruntime's blocking call). */
export async function runSession(
  s: ort.InferenceSession,
  feeds: Record<string, TensorData>,
  fetches?: string[],
): Promise<Record<string, TensorData>> {
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = toOrt(v);
  const r = fetches ? await s.run(f, fetches) : await s.run(f);
  const out: Record<string, TensorData> = {};
  for (const [k, v] of Object.entries(r)) out[k] = fromOrt(v as ort.Tensor);
  return out;
}
