import { resolve } from 'node:path';
import { ArtifactStore } from '../../activities/artifact-store';
import { stageFile } from '../../activities/datasets/stage';
import type { Settings } from '../../workers/settings';
import { num, START_FLAGS, START_HELP, startAndWait, startOptions, UsageError, type Command } from './common';

/** Copies a user's file into the artifact store (content-addressed) and returns its reference. */
function stage(s: Settings, file: string): Promise<string> {
  return stageFile(new ArtifactStore(s.artifactRoot), resolve(file)).catch((e: Error) => {
    throw new UsageError(e.message);
  });
}

function parseMap(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const map: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=').map((x) => x.trim());
    if (!key || !value)
      throw new UsageError(`--map expects target=source pairs like question=problem,answer=solution; got "${pair}"`);
    map[key] = value;
  }
  return map;
}

export const importCommand: Command = {
  name: 'import',
  help: `rewrite-rl import <file> [--map question=problem,answer=solution] [--name N]
        [--format jsonl|json|parquet] [--test-fraction F | --test-size N] [--seed S] [--max-bad-fraction F]
                                           import a downstream dataset into the artifact store
                                           (${START_HELP})`,
  flags: {
    map: { type: 'string' },
    name: { type: 'string' },
    format: { type: 'string' },
    'test-fraction': { type: 'string' },
    'test-size': { type: 'string' },
    seed: { type: 'string' },
    'max-bad-fraction': { type: 'string' },
    ...START_FLAGS,
  },
  positionals: [1, 1],
  async run(s, [file], v) {
    const map = parseMap(v.map as string | undefined);
    const testSize = num(v['test-size'], '--test-size');
    const testFraction = num(v['test-fraction'], '--test-fraction');
    const seed = num(v.seed, '--seed');
    const maxBadFraction = num(v['max-bad-fraction'], '--max-bad-fraction');
    const source = await stage(s, file);
    const input = {
      source,
      ...(v.name ? { name: v.name } : {}),
      ...(v.format ? { format: v.format } : {}),
      ...(map ? { map } : {}),
      ...(testSize !== undefined || testFraction !== undefined
        ? {
            split: {
              ...(testSize !== undefined ? { testSize } : {}),
              ...(testFraction !== undefined ? { testFraction } : {}),
            },
          }
        : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(maxBadFraction !== undefined ? { maxBadFraction } : {}),
    };
    return startAndWait(s, 'importDataset', input, startOptions(v));
  },
};
