// What both world workflows (worldForgetting, rewriterProbe) need from the world beyond its backbone.
import type { WorldOutput } from '../schemas/workflow';
import { invalidInput } from './validate';

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
