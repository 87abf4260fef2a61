// What the device dataset builders (rewriteDataset, selfAlignDataset) share: the options that generate
// a candidate per record and gate it, and their defaults. The defaults are part of each output's key
// (through the recipe), so one place states them for both and they cannot drift apart.
import type { Extractor } from '../../method/extract';
import { QA_TEMPLATE, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import type { GateConfigInput, ModelRef } from '../../schemas';

export interface DatasetBuilderInput {
  model: ModelRef;
  /** A JSONL file of {id, question, answer}; the answer is y*. */
  dataset: string;
  name?: string;
  /** The rewriting prompt with {question} and {answer}. */
  promptFormat?: string;
  /** The plain QA prompt with {question}: the prefix the backbone answers (or scores a candidate) under. */
  qaPrompt?: string;
  gate?: GateConfigInput;
  /** 0 = greedy. */
  temperature?: number;
  seed?: number;
  maxNewTokens?: number;
  batchSize?: number;
  limit?: number;
}

const BOXED: Extractor = { kind: 'boxed' };

/** The shared options with their defaults; the gate defaults to the final answer by `extractor`. */
export function datasetBuilderOptions(input: DatasetBuilderInput, name: string, extractor: Extractor = BOXED) {
  return {
    name: input.name ?? name,
    promptFormat: input.promptFormat ?? WORLD_REWRITE_PROMPT,
    qaPrompt: input.qaPrompt ?? QA_TEMPLATE,
    gate: input.gate ?? { extractor, checks: ['answer' as const] },
    temperature: input.temperature ?? 0,
    seed: input.seed ?? 0,
    maxNewTokens: input.maxNewTokens ?? 256,
    limit: input.limit,
  };
}
