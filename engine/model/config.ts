import { isJsonObject, jsonTypeOf, ModelFileError } from '../errors';

/**
 * The decoder-only family (Llama, Qwen2, Mistral) read from a Hugging Face config.json. Every field
 * that changes the numbers and is not implemented is a clear error, never silently wrong output.
 */
export interface DecoderConfig {
  modelType: 'llama' | 'qwen2' | 'mistral';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** RoPE frequency scaling ('linear' or 'llama3'); plain RoPE when absent. */
  ropeScaling?: RopeScaling;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (qwen2: always; llama: attention_bias). */
  qkvBias: boolean;
  /** Bias on the output projection (llama attention_bias). */
  oBias: boolean;
  /** Bias on the MLP projections (llama mlp_bias). */
  mlpBias: boolean;
  maxPositionEmbeddings: number;
  /** Attention window; programs refuse sequences longer than it (sliding attention is not implemented). */
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  padTokenId?: number;
  /** The config.json this was parsed from (kept for saving). */
  raw: Record<string, unknown>;
}

export type RopeScaling =
  | { kind: 'linear'; factor: number }
  | { kind: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

const SUPPORTED = ['llama', 'qwen2', 'mistral'] as const;

/**
 * Upper bounds on the sizes a config may declare: far above any released model of the family, low
 * enough that a lying config.json cannot make the loader allocate or loop without bound.
 */
export const CONFIG_LIMITS: Record<string, number> = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 20,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 4096,
  max_position_embeddings: 2 ** 31,
  sliding_window: 2 ** 31,
};

function fail(msg: string): never {
  throw new ModelFileError(`config.json: ${msg}`);
}

const shown = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 100));

function int(raw: Record<string, unknown>, key: string, dflt?: number): number {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    fail(`${key} must be a positive integer, got ${shown(v)}`);
  const max = CONFIG_LIMITS[key];
  if (max !== undefined && v > max) fail(`${key} ${v} is larger than ${max}, the largest this loader accepts`);
  return v;
}

function num(raw: Record<string, unknown>, key: string, dflt: number, where = ''): number {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    fail(`${where}${key} must be a positive number, got ${shown(v)}`);
  return v;
}

function bool(raw: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'boolean') fail(`${key} must be true or false, got ${shown(v)}`);
  return v;
}

function optId(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${key} must be a token id, got ${shown(v)}`);
  return v;
}

export function parseDecoderConfig(given: unknown): DecoderConfig {
  if (!isJsonObject(given)) fail(`must be a JSON object, got ${jsonTypeOf(given)}`);
  const raw = given;
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED as readonly string[]).includes(modelType))
    fail(`model_type ${shown(modelType)} is not supported (supported: ${SUPPORTED.join(', ')})`);
  const mt = modelType as DecoderConfig['modelType'];
  const hiddenSize = int(raw, 'hidden_size');
  const numHeads = int(raw, 'num_attention_heads');
  const numKvHeads = int(raw, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads)
    fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = raw.head_dim === undefined || raw.head_dim === null ? hiddenSize / numHeads : int(raw, 'head_dim');
  if (!Number.isInteger(headDim)) fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  if (headDim % 2) fail(`head_dim ${headDim} must be even for RoPE`);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') fail(`hidden_act ${JSON.stringify(act)} is not implemented (only silu)`);
  // transformers < 5: rope_theta + rope_scaling; transformers >= 5: rope_parameters {rope_type, rope_theta, ...}.
  let ropeTheta = raw.rope_theta;
  let ropeScaling: RopeScaling | undefined;
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const rs = raw[key];
    if (rs === undefined || rs === null) continue;
    if (!isJsonObject(rs)) fail(`${key} must be an object, got ${jsonTypeOf(rs)}`);
    const kind = rs.rope_type ?? rs.type ?? 'default';
    if (typeof kind !== 'string') fail(`${key}.rope_type must be a string, got ${shown(kind)}`);
    if (rs.rope_theta !== undefined) ropeTheta = rs.rope_theta;
    if (rs.partial_rotary_factor !== undefined && rs.partial_rotary_factor !== 1)
      fail(`${key}.partial_rotary_factor ${JSON.stringify(rs.partial_rotary_factor)} is not implemented`);
    if (kind === 'default') continue;
    const f = (k: string, dflt?: number) => num(rs, k, dflt as number, `${key}.`);
    if (kind === 'linear') ropeScaling = { kind, factor: f('factor') };
    else if (kind === 'llama3')
      ropeScaling = {
        kind,
        factor: f('factor'),
        lowFreqFactor: f('low_freq_factor'),
        highFreqFactor: f('high_freq_factor'),
        originalMaxPositions: f('original_max_position_embeddings'),
      };
    else
      fail(
        `${key}.rope_type ${JSON.stringify(kind)} is not implemented (plain RoPE, 'linear' and 'llama3' are; not dynamic, yarn, longrope)`,
      );
  }
  const layerTypes = raw.layer_types;
  if (layerTypes !== undefined && layerTypes !== null && !Array.isArray(layerTypes))
    fail(`layer_types must be a list, got ${jsonTypeOf(layerTypes)}`);
  if (Array.isArray(layerTypes) && layerTypes.some((t) => t !== 'full_attention'))
    fail(
      `layer_types ${JSON.stringify(layerTypes.find((t) => t !== 'full_attention'))}: only full attention is implemented`,
    );
  if (raw.partial_rotary_factor !== undefined && raw.partial_rotary_factor !== 1)
    fail(`partial_rotary_factor ${JSON.stringify(raw.partial_rotary_factor)} is not implemented`);
  if (raw.pretraining_tp !== undefined && raw.pretraining_tp !== 1)
    fail(`pretraining_tp ${JSON.stringify(raw.pretraining_tp)} is not implemented`);
  let slidingWindow: number | undefined;
  if (mt === 'qwen2') {
    if (bool(raw, 'use_sliding_window', false))
      fail('use_sliding_window is true: sliding-window attention is not implemented');
  } else if (mt === 'mistral' && raw.sliding_window !== undefined && raw.sliding_window !== null) {
    slidingWindow = int(raw, 'sliding_window');
  }
  const vocabSize = int(raw, 'vocab_size');
  const tokenId = (v: unknown, key: string) => {
    const id = optId(v, key);
    if (id !== undefined && id >= vocabSize) fail(`${key} ${id} is not below vocab_size ${vocabSize}`);
    return id;
  };
  const eos = raw.eos_token_id;
  const eosTokenIds = Array.isArray(eos)
    ? eos.map((e, i) => tokenId(e, `eos_token_id[${i}]`)!)
    : eos === undefined || eos === null
      ? []
      : [tokenId(eos, 'eos_token_id')!];
  const attnBias = bool(raw, 'attention_bias', false);
  return {
    modelType: mt,
    vocabSize,
    hiddenSize,
    intermediateSize: int(raw, 'intermediate_size'),
    numLayers: int(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    ropeTheta: num({ rope_theta: ropeTheta }, 'rope_theta', 10000),
    ropeScaling,
    // LlamaConfig, Qwen2Config and MistralConfig all default to untied embeddings.
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', false),
    qkvBias: mt === 'qwen2' ? true : attnBias,
    oBias: mt === 'qwen2' ? false : attnBias,
    mlpBias: bool(raw, 'mlp_bias', false),
    maxPositionEmbeddings: int(raw, 'max_position_embeddings', 2048),
    slidingWindow,
    bosTokenId: tokenId(raw.bos_token_id, 'bos_token_id'),
    eosTokenIds,
    padTokenId: tokenId(raw.pad_token_id, 'pad_token_id'),
    raw,
  };
}

/** Checks that programs over sequences of `len` tokens compute what the model defines. */
export function checkSequenceLength(c: DecoderConfig, len: number): void {
  if (c.slidingWindow !== undefined && len > c.slidingWindow)
    throw new Error(
      `sequences of ${len} tokens exceed sliding_window ${c.slidingWindow}: sliding-window attention is not implemented`,
    );
}

/** A config.json object for a new model of this family (used by the embedded world and tests). */
export function makeConfigJson(c: {
  modelType?: 'llama' | 'qwen2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads?: number;
  headDim?: number;
  ropeTheta?: number;
  rmsNormEps?: number;
  tieWordEmbeddings?: boolean;
  maxPositionEmbeddings?: number;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}): Record<string, unknown> {
  const mt = c.modelType ?? 'llama';
  return {
    architectures: [mt === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: mt,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads ?? c.numHeads,
    ...(c.headDim ? { head_dim: c.headDim } : {}),
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositionEmbeddings ?? 2048,
    rms_norm_eps: c.rmsNormEps ?? 1e-6,
    rope_theta: c.ropeTheta ?? 10000,
    rope_scaling: null,
    tie_word_embeddings: c.tieWordEmbeddings ?? false,
    ...(mt === 'qwen2' ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false }),
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
    pad_token_id: c.padTokenId ?? null,
    torch_dtype: 'float32',
  };
}
