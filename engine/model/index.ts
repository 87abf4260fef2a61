import { isUtf8 } from 'node:buffer';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isJsonObject, jsonTypeOf, ModelFileError } from '../errors';
import { join } from 'node:path';
import { TextTokenizer } from '../tokenizer';
import { type DecoderConfig, parseDecoderConfig } from './config';
import { type DecoderWeights, loadDecoderWeights } from './weights';

export * from './config';
export * from './weights';
export * from './decoder';

/** A Hugging Face model folder in memory: config, float32 weights (engine layout), tokenizer. */
export interface HFModel {
  dir?: string;
  config: DecoderConfig;
  weights: DecoderWeights;
  /** Present when the folder has tokenizer.json. */
  tokenizer?: TextTokenizer;
  /** generation_config.json, when present (eos ids may be listed there). */
  generationConfig?: Record<string, unknown>;
}

/**
 * Reads a JSON file of a model folder: the parsed value, or a ModelFileError naming the file. Files are
 * limited to `maxBytes` (config files are small; tokenizer.json holds the vocabulary and merges).
 */
export async function readModelJson(path: string, maxBytes = 256 * 1024 * 1024): Promise<unknown> {
  const { size } = await stat(path);
  if (size > maxBytes) throw new ModelFileError(`${path}: ${size} bytes; at most ${maxBytes} are read`);
  const bytes = await readFile(path);
  if (!isUtf8(bytes)) throw new ModelFileError(`${path}: encoding error: not valid UTF-8`);
  try {
    return JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ModelFileError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** generation_config.json: an object whose token ids, when present, are ids or lists of ids in the vocabulary. */
export function checkGenerationConfig(raw: unknown, vocabSize: number): Record<string, unknown> {
  const where = 'generation_config.json';
  if (!isJsonObject(raw)) throw new ModelFileError(`${where}: must be a JSON object, got ${jsonTypeOf(raw)}`);
  for (const key of ['eos_token_id', 'bos_token_id', 'pad_token_id', 'decoder_start_token_id']) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    const ids = Array.isArray(v) ? v : [v];
    if (key !== 'eos_token_id' && Array.isArray(v))
      throw new ModelFileError(`${where}: ${key} must be a token id, got a list`);
    ids.forEach((id, i) => {
      const at = Array.isArray(v) ? `${key}[${i}]` : key;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        throw new ModelFileError(`${where}: ${at} must be a token id, got ${JSON.stringify(id)?.slice(0, 100)}`);
      if (id >= vocabSize) throw new ModelFileError(`${where}: ${at} ${id} is not below vocab_size ${vocabSize}`);
    });
  }
  for (const key of ['max_new_tokens', 'max_length']) {
    const v = raw[key];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v) || v <= 0))
      throw new ModelFileError(`${where}: ${key} must be a positive integer, got ${JSON.stringify(v)?.slice(0, 100)}`);
  }
  return raw;
}

/** Loads config.json, the safetensors weights (single or sharded) and the tokenizer files of a folder. */
export async function loadHFModel(dir: string): Promise<HFModel> {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new ModelFileError(`${dir}: config.json not found`);
  const raw = await readModelJson(cfgPath, 16 * 1024 * 1024);
  let config: DecoderConfig;
  try {
    config = parseDecoderConfig(raw);
  } catch (e) {
    throw new ModelFileError(`${dir}/${(e as Error).message}`);
  }
  // the small files first: a bad tokenizer or generation config fails before gigabytes are read
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? await TextTokenizer.load(dir) : undefined;
  if (tokenizer && tokenizer.vocabSize > config.vocabSize)
    throw new ModelFileError(
      `${dir}/tokenizer.json: the vocabulary has ids up to ${tokenizer.vocabSize - 1}, past config.json vocab_size ${config.vocabSize}`,
    );
  const genPath = join(dir, 'generation_config.json');
  let generationConfig: Record<string, unknown> | undefined;
  if (existsSync(genPath)) {
    try {
      generationConfig = checkGenerationConfig(await readModelJson(genPath, 16 * 1024 * 1024), config.vocabSize);
    } catch (e) {
      throw e instanceof ModelFileError && e.message.startsWith('generation_config.json')
        ? new ModelFileError(`${dir}/${e.message}`)
        : e;
    }
  }
  const weights = await loadDecoderWeights(dir, config);
  return { dir, config, weights, tokenizer, generationConfig };
}

/** End-of-sequence ids: config.json, generation_config.json and the tokenizer's eos token, deduplicated. */
export function eosTokenIds(
  m: Pick<HFModel, 'config'> & Partial<Pick<HFModel, 'generationConfig' | 'tokenizer'>>,
): number[] {
  const ids = new Set(m.config.eosTokenIds);
  const g = m.generationConfig?.eos_token_id;
  for (const v of Array.isArray(g) ? g : g === undefined || g === null ? [] : [g])
    if (typeof v === 'number') ids.add(v);
  if (m.tokenizer?.eosTokenId !== undefined) ids.add(m.tokenizer.eosTokenId);
  return [...ids];
}
