import { followPipeline } from '../pipeline-command';
import { err, int, START_FLAGS, START_HELP, startAndWait, startOptions, UsageError, type Command } from './common';

export const pipeline: Command = {
  name: 'pipeline',
  aliases: ['demo'],
  help: `rewrite-rl pipeline [--recipe default|test] [--arms vanilla,prompted,...] [--seeds 0,1,2]
        [--seed S] [--fallback original|drop] [--steps N]
                                           (also \`rewrite-rl demo\`, what \`npm start\` runs) the main
                                           job: train the rewriter, build every arm's SFT data under one
                                           gate, fine-tune and evaluate every arm per seed, report; a live
                                           display of its stages, then the result table, the report paths
                                           and the UI link (defaults: recipe default, the arms vanilla,
                                           prompted, sdft, self-alignment, rl, oracle, seeds 0; --seed is
                                           the world's, --steps the rewriter's GRPO steps; ${START_HELP})`,
  flags: {
    recipe: { type: 'string' },
    arms: { type: 'string' },
    seeds: { type: 'string' },
    seed: { type: 'string' },
    fallback: { type: 'string' },
    steps: { type: 'string' },
    ...START_FLAGS,
  },
  positionals: [0, 0],
  async run(s, _pos, v) {
    const list = (text: unknown) => (typeof text === 'string' ? text.split(',').map((a) => a.trim()) : undefined);
    const seeds = list(v.seeds)?.map((x) => {
      const n = int(x, '--seeds');
      if (n === undefined) throw new UsageError('--seeds expects comma-separated integers like 0,1,2');
      return n;
    });
    const seed = int(v.seed, '--seed');
    const steps = int(v.steps, '--steps');
    const arms = list(v.arms);
    const input = {
      ...(v.recipe ? { recipe: v.recipe } : {}),
      ...(arms ? { arms } : {}),
      ...(seeds ? { seeds } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(v.fallback ? { fallback: v.fallback } : {}),
      ...(steps !== undefined ? { rewriter: { steps } } : {}),
    };
    return startAndWait(s, 'pipeline', input, startOptions(v), (handle) => followPipeline(handle, err));
  },
};
