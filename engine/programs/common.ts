import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, Tensor, TensorData } from '../graph';
import { initializerBytes, saveModel, serializeModel } from '../onnx';
import type { Runner, SessionOptions } from '../runner';
import type { DecoderConfig } from '../model/config';
import type { DecoderParams, LoraTensors } from '../model/decoder';
import { type DecoderWeights, expectedWeights, isLinearWeight } from '../model/weights';
import type { LoraConfig } from '../lora/lora';
import { loraModules, loraParamName } from '../lora/lora';

/** Base weights as initializers of `g`, created on first use (only what the program reads is stored). */
export function initializerSource(g: Graph, weights: DecoderWeights): (name: string) => Tensor {
  const made = new Map<string, Tensor>();
  return (name) => {
    let t = made.get(name);
    if (!t) {
      const w = weights[name];
      if (!w) throw new Error(`model has no weight '${name}'`);
      made.set(name, (t = g.initializer(name, w)));
    }
    return t;
  };
}

/**
 * LoRA tensors as graph inputs named `param.<module>.lora_A|lora_B` (the names a LoRA train step
 * updates in the runner's state, so every program on one runner sees the current adapter).
 */
export function loraInputs(g: Graph, c: DecoderConfig, lora: LoraConfig, scale: Tensor | number): LoraTensors {
  const map = new Map<string, { a: Tensor; b: Tensor }>();
  for (const m of loraModules(c, lora)) {
    map.set(m.module, {
      a: g.input(`param.${loraParamName(m.module, 'A')}`, 'float32', [m.inFeatures, lora.rank]),
      b: g.input(`param.${loraParamName(m.module, 'B')}`, 'float32', [lora.rank, m.outFeatures]),
    });
  }
  return { get: (m) => map.get(m), scale };
}

/**
 * Base weights as graph inputs `param.<name>` (float32, engine layout), read from the runner's state:
 * what a full fine-tuning train step updates, so score and generate see the current weights.
 */
export function inputSource(g: Graph, config: DecoderConfig): (name: string) => Tensor {
  const shapes = expectedWeights(config);
  const made = new Map<string, Tensor>();
  return (name) => {
    let t = made.get(name);
    if (!t) {
      const s = shapes.get(name);
      if (!s) throw new Error(`model has no weight '${name}'`);
      made.set(name, (t = g.input(`param.${name}`, 'float32', isLinearWeight(name) ? [s[1], s[0]] : s)));
    }
    return t;
  };
}

/**
 * The decoder's tensors for a program: base weights as initializers (`weights` given) or as inputs
 * from the runner's state (`weights` omitted: full fine-tuning), plus optional LoRA inputs.
 */
export function decoderParams(
  g: Graph,
  config: DecoderConfig,
  weights: DecoderWeights | undefined,
  lora?: { config: LoraConfig; scale: Tensor | number },
): DecoderParams {
  return {
    config,
    weight: weights ? initializerSource(g, weights) : inputSource(g, config),
    lora: lora ? loraInputs(g, config, lora.config, lora.scale) : undefined,
  };
}

export function i64(shape: number[], values: ArrayLike<number>): TensorData {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return { dtype: 'int64', shape, data };
}

export function f32(shape: number[], values: ArrayLike<number> | Float32Array): TensorData {
  return { dtype: 'float32', shape, data: values instanceof Float32Array ? values : Float32Array.from(values) };
}

export function scalarF32(v: number): TensorData {
  return { dtype: 'float32', shape: [], data: Float32Array.of(v) };
}

export interface PaddedBatch {
  tokens: TensorData;
  mask: TensorData;
  /** Columns of padding before each row (left padding) or 0 (right padding). */
  offsets: number[];
  width: number;
}

/** Pads token rows to one width, on the left or right, with `pad`. */
export function padBatch(rows: number[][], side: 'left' | 'right', pad = 0, width?: number): PaddedBatch {
  const T = width ?? Math.max(1, ...rows.map((r) => r.length));
  const B = rows.length;
  const tok = new BigInt64Array(B * T).fill(BigInt(pad));
  const mask = new Float32Array(B * T);
  const offsets: number[] = [];
  rows.forEach((r, b) => {
    if (r.length > T) throw new Error(`padBatch: row ${b} has ${r.length} tokens, more than ${T}`);
    const off = side === 'left' ? T - r.length : 0;
    offsets.push(off);
    r.forEach((v, j) => {
      tok[b * T + off + j] = BigInt(v);
      mask[b * T + off + j] = 1;
    });
  });
  return { tokens: { dtype: 'int64', shape: [B, T], data: tok }, mask: f32([B, T], mask), offsets, width: T };
}

/** What programs need of a model: its config and (unless read from the runner's state) its weights. */
export interface ProgramModel {
  config: DecoderConfig;
  weights: DecoderWeights;
}

/** Runner state entries `param.<name>` for a set of tensors. */
export function asParamState(w: Record<string, TensorData>): Record<string, TensorData> {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [`param.${k}`, v]));
}

/**
 * Loads a program on a runner: in memory when small, through a temporary file with ONNX external
 * data when its initializers approach the 2 GiB protobuf limit (large models).
 */
export async function loadProgram(runner: Runner, name: string, g: Graph, options: SessionOptions = {}): Promise<void> {
  if (initializerBytes(g) < 1.5 * 2 ** 30) {
    await runner.load(name, serializeModel(g), options);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'rewrite-rl-program-'));
  try {
    const { path } = await saveModel(g, join(dir, `${name.replace(/[^\w.-]/g, '_')}.onnx`), {
      externalDataThreshold: 0,
    });
    await runner.load(name, path, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Throws naming the item and position when a token id is outside [0, vocab). */
export function checkTokens(what: string, rows: number[][], vocab: number): void {
  rows.forEach((r, i) =>
    r.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= vocab)
        throw new Error(`${what}: item ${i}, position ${j}: token id ${t} is outside the vocabulary [0, ${vocab})`);
    }),
  );
}
