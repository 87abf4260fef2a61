import { readFile } from 'node:fs/promises';
import { followTrainRewriter } from '../train-rewriter-command';
import { err, int, START_FLAGS, START_HELP, startAndWait, startOptions, UsageError, type Command } from './common';

export const trainRewriter: Command = {
  name: 'train-rewriter',
  help: `rewrite-rl train-rewriter [--preset world|paper|test] [--input f.json] [--recipe R] [--seed S]
        [--rl-seed S] [--steps N]
                                           trains the RL rewriter (GRPO) with live progress; fields of
                                           f.json override the preset (schemas/json/train-rewriter-input)
                                           (${START_HELP})`,
  flags: {
    preset: { type: 'string' },
    input: { type: 'string' },
    recipe: { type: 'string' },
    seed: { type: 'string' },
    'rl-seed': { type: 'string' },
    steps: { type: 'string' },
    ...START_FLAGS,
  },
  positionals: [0, 0],
  async run(s, _pos, v) {
    let input: Record<string, unknown> = {};
    if (v.input) {
      try {
        input = JSON.parse(await readFile(v.input as string, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new UsageError(`--input ${String(v.input)}: ${(e as Error).message}`);
      }
    }
    const seed = int(v.seed, '--seed');
    const rlSeed = int(v['rl-seed'], '--rl-seed');
    const steps = int(v.steps, '--steps');
    input = {
      ...input,
      ...(v.preset ? { preset: v.preset } : {}),
      ...(v.recipe ? { recipe: v.recipe } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(rlSeed !== undefined ? { rlSeed } : {}),
      ...(steps !== undefined ? { steps } : {}),
    };
    return startAndWait(s, 'trainRewriter', input, startOptions(v), (handle) => followTrainRewriter(handle, err));
  },
};
