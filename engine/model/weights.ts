import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isJsonObject, jsonTypeOf, ModelFileError } from '../errors';
import type { TensorData } from '../graph';
import { type StTensor, readSafetensors, toTensorData } from '../safetensors';
import { xorshift32 } from '../rng';
import type { DecoderConfig } from './config';

/**
 * Decoder weights keyed by their Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, ...),
 * all float32. Linear weights are stored TRANSPOSED, [in, out], so programs compute x @ W without a
 * transpose; `toHFLayout` turns them back for saving.
 */
export type DecoderWeights = Record<string, TensorData>;

const LINEAR = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$|^lm_head\.weight$/;

/** True for weights stored [in, out] in DecoderWeights and [out, in] in Hugging Face files. */
export function isLinearWeight(name: string): boolean {
  return LINEAR.test(name);
}

/** IEEE half-precision bits to float32. */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) out[i] = s * f * 2 ** -24;
    else if (e === 31) out[i] = f ? NaN : s * Infinity;
    else out[i] = s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** A stored F32/F16/BF16 tensor as float32. */
export function toFloat32(t: StTensor, name: string): TensorData {
  const d = toTensorData(t, name);
  if (d.dtype === 'float32') return d;
  if (d.dtype === 'float16') return { dtype: 'float32', shape: d.shape, data: f16ToF32(d.data as Uint16Array) };
  if (d.dtype === 'float64')
    return { dtype: 'float32', shape: d.shape, data: Float32Array.from(d.data as Float64Array) };
  throw new ModelFileError(`weights: tensor '${name}' has dtype ${t.dtype}, expected a float type`);
}

/** Transposes a 2-D float32 tensor. */
export function transpose2d(t: TensorData): TensorData {
  const [r, c] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  // Blocked for cache friendliness on large matrices.
  const B = 64;
  for (let i0 = 0; i0 < r; i0 += B)
    for (let j0 = 0; j0 < c; j0 += B) {
      const i1 = Math.min(i0 + B, r);
      const j1 = Math.min(j0 + B, c);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * r + i] = src[i * c + j];
    }
  return { dtype: 'float32', shape: [c, r], data: out };
}

/** The names and Hugging Face shapes ([out, in] for linear weights) a config requires. */
export function expectedWeights(c: DecoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    m.set(`${p}input_layernorm.weight`, [H]);
    m.set(`${p}post_attention_layernorm.weight`, [H]);
    m.set(`${p}self_attn.q_proj.weight`, [q, H]);
    m.set(`${p}self_attn.k_proj.weight`, [kv, H]);
    m.set(`${p}self_attn.v_proj.weight`, [kv, H]);
    m.set(`${p}self_attn.o_proj.weight`, [H, q]);
    if (c.qkvBias) {
      m.set(`${p}self_attn.q_proj.bias`, [q]);
      m.set(`${p}self_attn.k_proj.bias`, [kv]);
      m.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    if (c.oBias) m.set(`${p}self_attn.o_proj.bias`, [H]);
    m.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.down_proj.weight`, [H, c.intermediateSize]);
    if (c.mlpBias) {
      m.set(`${p}mlp.gate_proj.bias`, [c.intermediateSize]);
      m.set(`${p}mlp.up_proj.bias`, [c.intermediateSize]);
      m.set(`${p}mlp.down_proj.bias`, [H]);
    }
  }
  m.set('model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}

/** The safetensors files of a model folder: model.safetensors, or the shards of model.safetensors.index.json. */
export async function weightFiles(dir: string): Promise<Map<string, string[]>> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  const files = new Map<string, string[]>();
  if (existsSync(index)) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(index, 'utf8'));
    } catch (e) {
      throw new ModelFileError(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (!isJsonObject(json)) throw new ModelFileError(`${index}: must be a JSON object, got ${jsonTypeOf(json)}`);
    if (!isJsonObject(json.weight_map))
      throw new ModelFileError(
        `${index}: weight_map must be an object {tensor: file}, got ${json.weight_map === undefined ? 'nothing' : jsonTypeOf(json.weight_map)}`,
      );
    for (const [name, file] of Object.entries(json.weight_map)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.') || file === '')
        throw new ModelFileError(`${index}: weight_map.${name} names an unsafe file ${JSON.stringify(file)}`);
      if (!existsSync(join(dir, file)))
        throw new ModelFileError(`${index}: weight_map.${name} names ${file}, which is not in the folder`);
      const list = files.get(file) ?? [];
      list.push(name);
      files.set(file, list);
    }
  } else if (existsSync(single)) files.set('model.safetensors', []);
  else throw new ModelFileError(`${dir}: neither model.safetensors nor model.safetensors.index.json found`);
  return files;
}

/**
 * Reads the weights of a model folder (single file or sharded; F32, F16 or BF16) as float32, in the
 * engine layout. Missing or mis-shaped tensors are errors naming the tensor; unexpected ones too.
 */
export async function loadDecoderWeights(dir: string, c: DecoderConfig): Promise<DecoderWeights> {
  const expected = expectedWeights(c);
  const out: DecoderWeights = {};
  for (const [file, names] of await weightFiles(dir)) {
    const path = join(dir, file);
    const { tensors } = await readSafetensors(path, names.length ? names : undefined);
    for (const [name, st] of tensors) {
      if (c.tieWordEmbeddings && name === 'lm_head.weight') continue; // some tied checkpoints store both
      const shape = expected.get(name);
      if (!shape) {
        if (/rotary_emb\.inv_freq$/.test(name)) continue;
        throw new ModelFileError(`${path}: unexpected tensor '${name}' for a ${c.modelType} model of this config`);
      }
      if (st.shape.length !== shape.length || st.shape.some((d, i) => d !== shape[i]))
        throw new ModelFileError(`${path}: tensor '${name}' has shape [${st.shape}], config.json implies [${shape}]`);
      let t: TensorData;
      try {
        t = toFloat32(st, name);
      } catch (e) {
        throw new ModelFileError(`${path}: ${(e as Error).message}`);
      }
      out[name] = isLinearWeight(name) ? transpose2d(t) : t;
    }
  }
  const missing = [...expected.keys()].filter((k) => !out[k]);
  if (missing.length)
    throw new ModelFileError(
      `${dir}: missing weights ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
    );
  return out;
}

/** Weights in the Hugging Face layout (linear weights [out, in]), for saving. */
export function toHFLayout(w: DecoderWeights): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [k, v] of Object.entries(w)) out[k] = isLinearWeight(k) ? transpose2d(v) : v;
  return out;
}

/** Deterministic random weights for a config (tests, benches, the scale check); norms at 1. */
export function randomDecoderWeights(c: DecoderConfig, seed = 1, std = 0.02): DecoderWeights {
  const rnd = xorshift32(seed);
  const out: DecoderWeights = {};
  const a = std * Math.sqrt(3); // uniform with this standard deviation
  for (const [name, shape] of expectedWeights(c)) {
    const n = shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = (2 * rnd() - 1) * a;
    const t: TensorData = { dtype: 'float32', shape, data };
    out[name] = isLinearWeight(name) ? { dtype: 'float32', shape: [shape[1], shape[0]], data } : t;
  }
  return out;
}
