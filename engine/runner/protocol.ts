import type { TensorData } from '../graph';
import type { SessionOptions } from './session';

export type Request =
  | { type: 'load'; program: string; model: Uint8Array | string; options: SessionOptions }
  | { type: 'unload'; program: string }
  | { type: 'run'; program: string; feeds: Record<string, TensorData>; fetch?: string[] }
  | { type: 'setState'; tensors: Record<string, TensorData> }
  | { type: 'getState'; names?: string[] }
  | { type: 'dropState'; names?: string[] }
  | { type: 'shutdown' };

export interface RunResult {
  outputs: Record<string, TensorData>;
  /** Wall time of onnxruntime's run() inside the worker, ms. */
  runMs: number;
  /** Bytes onnxruntime returned (all outputs, including state kept in the worker). */
  outputBytes: number;
}

export interface LoadResult {
  inputs: string[];
  outputs: string[];
  loadMs: number;
}

export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string; stack?: string } };
