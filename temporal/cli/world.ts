import { num, START_FLAGS, START_HELP, startAndWait, startOptions, type Command } from './common';

export const world: Command = {
  name: 'world',
  help: `rewrite-rl world [--recipe default|test] [--arms foreign,oracle,...] [--seed S] [--sft-seed S]
        [--data-seed S]                    (worldForgetting, the main job before the pipeline)
                                           pretrain (or reuse) the embedded backbone, score each arm's
                                           SFT data under it (NLL), fine-tune the arms, evaluate; print
                                           the forgetting tables, the dose-response (forgetting against
                                           NLL, with a plot) and, with several arms, each arm's forgetting
                                           reduction vs foreign, then the paths of the report and plot
                                           (defaults: recipe default, arms foreign; --seed is the world's
                                           seed, --sft-seed the SFT data order's, --data-seed the
                                           downstream training sample's; ${START_HELP})`,
  flags: {
    recipe: { type: 'string' },
    arms: { type: 'string' },
    seed: { type: 'string' },
    'sft-seed': { type: 'string' },
    'data-seed': { type: 'string' },
    ...START_FLAGS,
  },
  positionals: [0, 0],
  async run(s, _pos, v) {
    const arms = v.arms as string | undefined;
    const seed = num(v.seed, '--seed');
    const sftSeed = num(v['sft-seed'], '--sft-seed');
    const dataSeed = num(v['data-seed'], '--data-seed');
    const input = {
      ...(v.recipe ? { recipe: v.recipe } : {}),
      ...(arms ? { arms: arms.split(',').map((a) => a.trim()) } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(sftSeed !== undefined ? { sftSeed } : {}),
      ...(dataSeed !== undefined ? { dataSeed } : {}),
    };
    return startAndWait(s, 'worldForgetting', input, startOptions(v));
  },
};
