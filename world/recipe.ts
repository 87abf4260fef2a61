// The recipe of the embedded default: the tiny backbone's shape, its pretraining, the world's data
// sizes, and the SFT recipe shared by every arm. Its hash names the cached artifacts, so changing
// any number here trains a new backbone, and an unchanged recipe reuses the old one.

import type { WorldRecipe } from '../schemas';

export type { WorldRecipe } from '../schemas';
export type BackboneShape = WorldRecipe['backbone'];
export type TrainRecipe = WorldRecipe['sft'];

export const DEFAULT_RECIPE: WorldRecipe = {
  name: 'default',
  seed: 0,
  backbone: { hiddenSize: 128, layers: 4, heads: 4, kvHeads: 2, intermediateSize: 352, maxPositions: 512 },
  pretrainExamples: 80_000,
  pretrain: {
    epochs: 1,
    batchSize: 32,
    learningRate: 3e-3,
    warmupSteps: 100,
    schedule: 'cosine',
    weightDecay: 0.01,
    adamBeta2: 0.95,
    // random batches (length-sorted ones learned much slower), the rewriting examples (about twice as
    // long as the rest) in their own batches, one step per run so each batch pads only to itself
    lengthGroupBatches: 1,
    lengthBuckets: [128],
    stepsPerRun: 1,
    checkpointEvery: 200,
  },
  benchmarkSize: 500,
  downstreamTrainSize: 2000,
  mixtures: [0.25, 0.5, 0.75],
  // enough steps for vanilla SFT to learn the downstream task as well as the oracle on every backbone
  // (96.6-99.8%: 4 epochs at 5e-4, 500 steps), so the arms differ in forgetting, not in how much of
  // the task they learned; fewer epochs, a lower rate or batch 32 left vanilla short (README)
  sft: {
    epochs: 4,
    batchSize: 16,
    learningRate: 5e-4,
    warmupSteps: 10,
    schedule: 'linear',
    weightDecay: 0,
    lengthGroupBatches: 1,
    stepsPerRun: 1,
    checkpointEvery: 50,
  },
};

/** A seconds-long recipe for tests: the same code paths, a model that learns little. */
export const TEST_RECIPE: WorldRecipe = {
  ...DEFAULT_RECIPE,
  name: 'test',
  backbone: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, intermediateSize: 64, maxPositions: 512 },
  pretrainExamples: 256,
  pretrain: { ...DEFAULT_RECIPE.pretrain, batchSize: 16, warmupSteps: 2, checkpointEvery: 8 },
  benchmarkSize: 8,
  downstreamTrainSize: 32,
  mixtures: [0.5],
  sft: { ...DEFAULT_RECIPE.sft, epochs: 1, batchSize: 8, warmupSteps: 1 },
};

/**
 * Oracle shares of mixtures written beside each recipe's world instead of in its `mixtures`: the
 * shares a fallback leaves (a few percent of foreign answers undo most of the oracle's benefit, the
 * dose-response line must cover them). In `mixtures` they would change the world key, and with it
 * the shipped backbone; beside the world they are derived training sets of the same sample.
 */
export const LATER_MIXTURES = [0.9, 0.95];

export const RECIPES: Record<string, WorldRecipe> = { default: DEFAULT_RECIPE, test: TEST_RECIPE };

/** config.json of the backbone: a Llama decoder over the byte-level tokenizer (256 bytes, pad, bos, eos). */
export function backboneConfig(shape: BackboneShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 259,
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    head_dim: shape.hiddenSize / shape.heads,
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    attention_bias: false,
    pad_token_id: 256,
    bos_token_id: 257,
    eos_token_id: 258,
    torch_dtype: 'float32',
  };
}
