import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isJsonObject, jsonTypeOf, ModelFileError } from '../errors';
import type { TensorData } from '../graph';
import type { DecoderConfig } from '../model/config';
import { type DecoderWeights, toFloat32, transpose2d } from '../model/weights';
import { readSafetensors, writeSafetensors } from '../safetensors';

/** LoRA as PEFT defines it: W x + (alpha / r) B A x on the target modules. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Short module names (q_proj, ..., down_proj), or a regular expression matched against full names. */
  targetModules: string[] | RegExp;
  /** rsLoRA scaling alpha / sqrt(r) instead of alpha / r. */
  useRslora?: boolean;
}

export const ALL_LINEAR = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export function loraConfig(c: Partial<LoraConfig> & { rank: number }): LoraConfig {
  return {
    alpha: c.alpha ?? c.rank,
    targetModules: c.targetModules ?? ALL_LINEAR,
    rank: c.rank,
    useRslora: c.useRslora,
  };
}

export function loraScale(l: LoraConfig): number {
  return l.useRslora ? l.alpha / Math.sqrt(l.rank) : l.alpha / l.rank;
}

export interface LoraModule {
  /** Full module name, `model.layers.3.mlp.up_proj`. */
  module: string;
  inFeatures: number;
  outFeatures: number;
}

/** The adapted modules of a model, in layer order. */
export function loraModules(c: DecoderConfig, l: LoraConfig): LoraModule[] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const shapes: [string, number, number][] = [
    ['self_attn.q_proj', H, q],
    ['self_attn.k_proj', H, kv],
    ['self_attn.v_proj', H, kv],
    ['self_attn.o_proj', q, H],
    ['mlp.gate_proj', H, I],
    ['mlp.up_proj', H, I],
    ['mlp.down_proj', I, H],
  ];
  const out: LoraModule[] = [];
  for (let i = 0; i < c.numLayers; i++)
    for (const [m, fin, fout] of shapes) {
      const module = `model.layers.${i}.${m}`;
      const short = m.split('.')[1];
      const hit = Array.isArray(l.targetModules) ? l.targetModules.includes(short) : l.targetModules.test(module);
      if (hit) out.push({ module, inFeatures: fin, outFeatures: fout });
    }
  if (!out.length) throw new Error(`LoRA: target modules ${String(l.targetModules)} match no linear layer`);
  return out;
}

/** Engine name of a LoRA tensor (its runner state is `param.<name>`). */
export function loraParamName(module: string, which: 'A' | 'B'): string {
  return `${module}.lora_${which}`;
}

/** LoRA tensors in the engine layout: A [in, r], B [r, out], keyed by loraParamName. */
export type LoraWeights = Record<string, TensorData>;

/** PEFT's initialisation: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function initLoraWeights(c: DecoderConfig, l: LoraConfig, seed = 0): LoraWeights {
  let s = (seed ^ 0x5bd1e995) >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const out: LoraWeights = {};
  for (const m of loraModules(c, l)) {
    const bound = 1 / Math.sqrt(m.inFeatures);
    const a = new Float32Array(m.inFeatures * l.rank);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rnd() - 1) * bound;
    out[loraParamName(m.module, 'A')] = { dtype: 'float32', shape: [m.inFeatures, l.rank], data: a };
    out[loraParamName(m.module, 'B')] = {
      dtype: 'float32',
      shape: [l.rank, m.outFeatures],
      data: new Float32Array(l.rank * m.outFeatures),
    };
  }
  return out;
}

const PEFT_PREFIX = 'base_model.model.';

/** PEFT key of an engine LoRA tensor: base_model.model.<module>.lora_A.weight. */
export function peftKey(module: string, which: 'A' | 'B'): string {
  return `${PEFT_PREFIX}${module}.lora_${which}.weight`;
}

// a ModelFileError: the worker reports it as a bad model file, not retried
function fail(where: string, msg: string): never {
  throw new ModelFileError(`${where}: ${msg}`);
}

/** Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors). */
export async function loadPeftAdapter(
  dir: string,
  c: DecoderConfig,
): Promise<{ config: LoraConfig; weights: LoraWeights; raw: Record<string, unknown> }> {
  const cfgPath = join(dir, 'adapter_config.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(cfgPath, 'utf8'));
  } catch (e) {
    fail(cfgPath, `cannot read (${(e as Error).message})`);
  }
  if (!isJsonObject(parsed)) fail(cfgPath, `must be a JSON object, not ${jsonTypeOf(parsed)}`);
  const raw = parsed;
  if (raw.peft_type !== 'LORA') fail(cfgPath, `peft_type ${JSON.stringify(raw.peft_type)} is not LORA`);
  for (const [k, bad] of [
    ['use_dora', (v: unknown) => v === true],
    ['fan_in_fan_out', (v: unknown) => v === true],
    ['bias', (v: unknown) => v !== undefined && v !== 'none'],
    ['modules_to_save', (v: unknown) => Array.isArray(v) && v.length > 0],
    ['layers_to_transform', (v: unknown) => v !== undefined && v !== null],
    ['rank_pattern', (v: unknown) => !!v && Object.keys(v).length > 0],
    ['alpha_pattern', (v: unknown) => !!v && Object.keys(v).length > 0],
    ['lora_bias', (v: unknown) => v === true],
    ['use_qalora', (v: unknown) => v === true],
    ['layer_replication', (v: unknown) => v !== undefined && v !== null],
    ['target_parameters', (v: unknown) => Array.isArray(v) && v.length > 0],
    ['trainable_token_indices', (v: unknown) => v !== undefined && v !== null],
  ] as const)
    if (bad(raw[k])) fail(cfgPath, `${k} = ${JSON.stringify(raw[k])} is not supported`);
  const r = raw.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0)
    fail(cfgPath, `r must be a positive integer, not ${JSON.stringify(r) ?? 'missing'}`);
  // PEFT's defaults where a field is absent: lora_alpha 8, use_rslora false
  const alpha = raw.lora_alpha === undefined ? 8 : raw.lora_alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    fail(cfgPath, `lora_alpha must be a positive number, not ${JSON.stringify(alpha)}`);
  const useRslora = raw.use_rslora === undefined ? false : raw.use_rslora;
  if (typeof useRslora !== 'boolean')
    fail(cfgPath, `use_rslora must be true or false, not ${JSON.stringify(useRslora)}`);
  const tm = raw.target_modules;
  let targetModules: string[] | RegExp;
  if (tm === 'all-linear') targetModules = ALL_LINEAR;
  else if (typeof tm === 'string') {
    try {
      targetModules = new RegExp(`^(?:${tm})$`);
    } catch (e) {
      fail(cfgPath, `target_modules ${JSON.stringify(tm)} is not a valid pattern (${(e as Error).message})`);
    }
  } else if (Array.isArray(tm) && tm.length > 0 && tm.every((x) => typeof x === 'string')) {
    for (const x of tm as string[])
      if (!ALL_LINEAR.includes(x)) fail(cfgPath, `target module '${x}' is not a linear layer of this model family`);
    targetModules = tm as string[];
  } else fail(cfgPath, `target_modules must be a non-empty list of names or a pattern, not ${JSON.stringify(tm)}`);
  const config: LoraConfig = { rank: r, alpha, targetModules, useRslora };
  // loraModules refuses a pattern that matches nothing; here that is a fault of this file
  try {
    loraModules(c, config);
  } catch (e) {
    fail(
      cfgPath,
      `target_modules ${JSON.stringify(tm)} matches no linear layer of this model (${(e as Error).message})`,
    );
  }
  const stPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(stPath)) fail(dir, 'adapter_model.safetensors not found');
  const { tensors } = await readSafetensors(stPath);
  const weights: LoraWeights = {};
  const used = new Set<string>();
  for (const m of loraModules(c, config))
    for (const which of ['A', 'B'] as const) {
      // PEFT saves without the adapter name ("default"); accept it with the name too.
      const key = peftKey(m.module, which);
      const alt = `${PEFT_PREFIX}${m.module}.lora_${which}.default.weight`;
      const k = tensors.has(key) ? key : tensors.has(alt) ? alt : fail(stPath, `missing ${key}`);
      used.add(k);
      const t = toFloat32(tensors.get(k)!, k);
      const want = which === 'A' ? [r, m.inFeatures] : [m.outFeatures, r];
      if (t.shape[0] !== want[0] || t.shape[1] !== want[1])
        fail(stPath, `${k} has shape [${t.shape}], expected [${want}]`);
      weights[loraParamName(m.module, which)] = transpose2d(t);
    }
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length) fail(stPath, `unexpected tensors ${extra.slice(0, 3).join(', ')}`);
  return { config, weights, raw };
}

/**
 * Writes a PEFT LoRA adapter folder that peft.PeftModel.from_pretrained loads. `baseModel` becomes its
 * base_model_name_or_path, which PEFT's AutoPeftModel loads the base from: a local folder or a hub id.
 */
export async function savePeftAdapter(
  dir: string,
  c: DecoderConfig,
  l: LoraConfig,
  weights: LoraWeights,
  opts: { baseModel?: string } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors: Record<string, TensorData> = {};
  for (const m of loraModules(c, l))
    for (const which of ['A', 'B'] as const) {
      const w = weights[loraParamName(m.module, which)];
      if (!w) throw new Error(`savePeftAdapter: no tensor ${loraParamName(m.module, which)}`);
      tensors[peftKey(m.module, which)] = transpose2d(w);
    }
  const st = Object.fromEntries(
    Object.entries(tensors).map(([k, t]) => [
      k,
      {
        dtype: 'F32' as const,
        shape: t.shape,
        bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      },
    ]),
  );
  await writeSafetensors(join(dir, 'adapter_model.safetensors'), st, { format: 'pt' });
  const cfg = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModel ?? null,
    r: l.rank,
    lora_alpha: l.alpha,
    lora_dropout: 0,
    target_modules: Array.isArray(l.targetModules)
      ? l.targetModules
      : l.targetModules.source.replace(/^\^\(\?:|\)\$$/g, ''),
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: l.useRslora ?? false,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
  const tmp = join(dir, `adapter_config.json.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(cfg, null, 2) + '\n');
  await rename(tmp, join(dir, 'adapter_config.json'));
}

/** Base weights with the adapter merged in: W + scale A B (engine layout, [in, out]). */
export function mergeLora(c: DecoderConfig, base: DecoderWeights, l: LoraConfig, weights: LoraWeights): DecoderWeights {
  const out: DecoderWeights = { ...base };
  const s = loraScale(l);
  for (const m of loraModules(c, l)) {
    const name = `${m.module}.weight`;
    const w = Float32Array.from(base[name].data as Float32Array);
    const a = weights[loraParamName(m.module, 'A')].data as Float32Array;
    const b = weights[loraParamName(m.module, 'B')].data as Float32Array;
    const r = l.rank;
    const O = m.outFeatures;
    for (let i = 0; i < m.inFeatures; i++)
      for (let k = 0; k < r; k++) {
        const aik = a[i * r + k] * s;
        if (aik === 0) continue;
        const row = i * O;
        const bk = k * O;
        for (let j = 0; j < O; j++) w[row + j] += aik * b[bk + j];
      }
    out[name] = { dtype: 'float32', shape: base[name].shape, data: w };
  }
  return out;
}
