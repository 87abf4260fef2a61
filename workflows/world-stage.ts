// Pieces both world workflows (worldForgetting, rewriterProbe) start from: the cached backbone as a
// `pretrain` child, and an arm's training set, which the recipe may lack.
import { executeChild } from '@temporalio/workflow';
import type { PrepareWorldInput, WorldOutput } from '../schemas';
import type { pretrain } from './pretrain';
import { invalidInput } from './validate';

export function pretrainChild(
  parentId: string,
  o: Pick<PrepareWorldInput, 'recipe' | 'device' | 'seed'> & { dataSeed?: number },
) {
  return executeChild<typeof pretrain>('pretrain', {
    workflowId: `${parentId}/pretrain`,
    args: [
      {
        recipe: o.recipe,
        device: o.device,
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.dataSeed ? { dataSeed: o.dataSeed } : {}),
      },
    ],
  });
}

/** The training set of `arm`, or an InvalidInput failure naming `path` when the recipe has none. */
export function trainingSet(world: WorldOutput, recipe: string, arm: string, workflow: string, path: string): string {
  const dataset = world.train[arm];
  if (dataset === undefined) {
    throw invalidInput(workflow, [
      {
        path,
        rule: 'recipe',
        message: `the ${recipe} recipe has no training set "${arm}" (it has ${Object.keys(world.train).join(', ')})`,
      },
    ]);
  }
  return dataset;
}
