import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorData } from './graph';
import type { DecoderConfig } from './model/config';
import { type DecoderWeights, expectedWeights, toHFLayout } from './model/weights';
import { type StTensor, serializeSafetensors } from './safetensors';
import type { TextTokenizer } from './tokenizer';

export interface SaveHFOptions {
  /** Stored dtype (default float32; bfloat16 halves the size). Computation is float32 either way. */
  dtype?: 'float32' | 'bfloat16';
  /** Shard the weights into files of at most this many bytes, with model.safetensors.index.json. */
  maxShardBytes?: number;
  /** Tokenizer files to write beside the weights. */
  tokenizer?: TextTokenizer | { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> };
  generationConfig?: Record<string, unknown>;
  /** Replace an existing folder (default: refuse). */
  overwrite?: boolean;
}

/** float32 to bfloat16 bits, round to nearest even (NaN kept quiet). */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i];
    if ((v & 0x7f800000) === 0x7f800000 && v & 0x7fffff) out[i] = (v >>> 16) | 0x40;
    else out[i] = (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

function stored(t: TensorData, dtype: 'float32' | 'bfloat16'): StTensor {
  if (dtype === 'bfloat16') {
    const b = f32ToBf16(t.data as Float32Array);
    return { dtype: 'BF16', shape: t.shape, bytes: new Uint8Array(b.buffer) };
  }
  return { dtype: 'F32', shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

/**
 * Saves a model as a Hugging Face folder (config.json, model.safetensors or shards with an index,
 * tokenizer files, generation_config.json) that transformers' AutoModelForCausalLM loads. Written
 * into a temporary folder first and renamed, so a crash never leaves a half-written model.
 */
export async function saveHFFolder(
  dir: string,
  config: DecoderConfig,
  weights: DecoderWeights,
  o: SaveHFOptions = {},
): Promise<void> {
  if (existsSync(dir) && !o.overwrite) throw new Error(`saveHFFolder: ${dir} already exists`);
  const dtype = o.dtype ?? 'float32';
  const expected = expectedWeights(config);
  for (const name of expected.keys()) if (!weights[name]) throw new Error(`saveHFFolder: missing weight '${name}'`);
  const hf = toHFLayout(Object.fromEntries([...expected.keys()].map((k) => [k, weights[k]])));
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const raw = { ...config.raw, torch_dtype: dtype, ...('dtype' in config.raw ? { dtype } : {}) };
    await writeFile(join(tmp, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
    const tensors = Object.entries(hf).map(([k, t]) => [k, stored(t, dtype)] as const);
    const limit = o.maxShardBytes ?? Infinity;
    const shards: [string, StTensor][][] = [[]];
    let size = 0;
    for (const [k, t] of tensors) {
      if (size > 0 && size + t.bytes.length > limit) {
        shards.push([]);
        size = 0;
      }
      shards[shards.length - 1].push([k, t]);
      size += t.bytes.length;
    }
    const meta = { format: 'pt' };
    if (shards.length === 1) {
      await writeFile(join(tmp, 'model.safetensors'), serializeSafetensors(Object.fromEntries(shards[0]), meta));
    } else {
      const n = String(shards.length).padStart(5, '0');
      const weightMap: Record<string, string> = {};
      let total = 0;
      for (let i = 0; i < shards.length; i++) {
        const file = `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`;
        for (const [k, t] of shards[i]) {
          weightMap[k] = file;
          total += t.bytes.length;
        }
        await writeFile(join(tmp, file), serializeSafetensors(Object.fromEntries(shards[i]), meta));
      }
      const index = { metadata: { total_size: total }, weight_map: weightMap };
      await writeFile(join(tmp, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
    }
    if (o.tokenizer) {
      await writeFile(join(tmp, 'tokenizer.json'), JSON.stringify(o.tokenizer.tokenizerJson));
      await writeFile(join(tmp, 'tokenizer_config.json'), JSON.stringify(o.tokenizer.tokenizerConfig, null, 2) + '\n');
    }
    const gen = o.generationConfig ?? {
      ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
      ...(config.eosTokenIds.length
        ? { eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds }
        : {}),
      ...(config.padTokenId !== undefined ? { pad_token_id: config.padTokenId } : {}),
    };
    await writeFile(join(tmp, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
