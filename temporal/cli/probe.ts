import { int, numbers, START_FLAGS, START_HELP, startAndWait, startOptions, type Command } from './common';

export const probe: Command = {
  name: 'probe',
  help: `rewrite-rl probe [--recipe default|test] [--seed S] [--arm A] [--limit N] [--temperatures 0,0.8]
        [--samples K] [--sample-seed S]
                                           the prompted rewriter at step 0 (the backbone with the rewrite
                                           prompt, no training): its gate pass rate on the downstream
                                           training set A (default foreign), greedy (temperature 0) and
                                           sampled (K rewrites per record); prints a table of the rates
                                           (${START_HELP})`,
  flags: {
    recipe: { type: 'string' },
    seed: { type: 'string' },
    arm: { type: 'string' },
    limit: { type: 'string' },
    temperatures: { type: 'string' },
    samples: { type: 'string' },
    'sample-seed': { type: 'string' },
    ...START_FLAGS,
  },
  positionals: [0, 0],
  async run(s, _pos, v) {
    const temperatures = numbers(v.temperatures, '--temperatures');
    const seed = int(v.seed, '--seed');
    const limit = int(v.limit, '--limit');
    const samples = int(v.samples, '--samples');
    const sampleSeed = int(v['sample-seed'], '--sample-seed');
    const input = {
      ...(v.recipe ? { recipe: v.recipe } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(v.arm ? { arm: v.arm } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(temperatures ? { temperatures } : {}),
      ...(samples !== undefined ? { samples } : {}),
      ...(sampleSeed !== undefined ? { sampleSeed } : {}),
    };
    return startAndWait(s, 'rewriterProbe', input, startOptions(v));
  },
};
