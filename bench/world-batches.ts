// The embedded world's pretraining batches as the default recipe cuts them (a bench helper).
import { type SftExample, TrainProgram } from '../engine/programs/train';
import type { PackedBlocks } from '../engine/programs/train-packed';
import type { Runner } from '../engine/runner';
import { TextTokenizer, byteLevelTokenizerFiles } from '../engine/tokenizer';
import { DEFAULT_RECIPE } from '../world/recipe';
import { makeWorld, pretrainItemAt } from '../world/world';
import { LengthGroupedBatches } from '../training/batches';

const FORMAT = 'Problem:\n{question}\n\nAnswer:\n';

export const exampleLength = (e: SftExample): number => e.prompt.length + e.target.length;

/**
 * `steps` batches of `batchSize` world-0 pretraining examples (prompt format, byte-level tokens, EOS
 * 258), drawn as the recipe draws them: random batches within the length buckets, from a pool four
 * times the batches' size.
 */
export function worldPretrainBatches(steps: number, batchSize: number): SftExample[][] {
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  const tok = new TextTokenizer(tokenizerJson, tokenizerConfig);
  const world = makeWorld(0);
  const pool = Array.from({ length: steps * batchSize * 4 }, (_, i): SftExample => {
    const it = pretrainItemAt(world, 0, i);
    return {
      prompt: tok.encode(FORMAT.replace('{question}', it.question)),
      target: [...tok.encode(it.answer, { addSpecialTokens: false }), 258],
    };
  });
  const order = new LengthGroupedBatches(
    pool.map(exampleLength),
    batchSize,
    0,
    1,
    DEFAULT_RECIPE.pretrain.lengthBuckets,
  );
  return Array.from({ length: steps }, () => order.next().map((i) => pool[i]));
}

/** The three ways the world's train step is benched (bench/engine-world-train.ts explains each). */
export const WORLD_TRAIN_ARMS = ['before', 'padded', 'packed'] as const;
export type WorldTrainArm = (typeof WORLD_TRAIN_ARMS)[number];

/**
 * The train program of an arm: before as the padded step was (a Loop, memory pattern on); padded and
 * packed as sft runs them at one step per run (no Loop, memory pattern off unless asked).
 */
export function worldTrainProgram(
  runner: Runner,
  model: Parameters<typeof TrainProgram.create>[1],
  arm: WorldTrainArm,
  o: { packedBlocks?: PackedBlocks; memoryPattern?: boolean } = {},
): Promise<TrainProgram> {
  if (arm === 'before') return TrainProgram.create(runner, model, { objective: 'sft', name: arm, memoryPattern: true });
  return TrainProgram.create(runner, model, {
    objective: 'sft',
    singleStep: true,
    ...(arm === 'packed' ? { packed: true, packedBlocks: o.packedBlocks } : {}),
    memoryPattern: o.memoryPattern,
    name: arm,
  });
}
