import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** Loads config.json, the safetensors weights (single or sharded) and the tokenizer files of a folder. */
export async function loadHFModel(dir: string): Promise<HFModel> {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${dir}: config.json not found`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  let config: DecoderConfig;
  try {
    config = parseDecoderConfig(raw);
  } catch (e) {
    throw new Error(`${dir}/${(e as Error).message}`);
  }
  const weights = await loadDecoderWeights(dir, config);
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? await TextTokenizer.load(dir) : undefined;
  const genPath = join(dir, 'generation_config.json');
  const generationConfig = existsSync(genPath)
    ? (JSON.parse(await readFile(genPath, 'utf8')) as Record<string, unknown>)
    : undefined;
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
