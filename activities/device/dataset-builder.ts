// What the device dataset builders (rewriteDataset, selfAlignDataset) share: the options that generate
// a candidate per record and gate it, and their defaults. The defaults are part of each output's key
// (through the recipe), so one place states them for both and they cannot drift apart.
import type { Extractor } from '../../method/extract';
import { QA_TEMPLATE, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import type { DatasetBuilderInput } from '../../schemas';

// the type comes from its schema (schemas/json/dataset-builder-input.schema.json)
export type { DatasetBuilderInput };

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
