import { patched, upsertSearchAttributes } from '@temporalio/workflow';
import { schemas, type PrepareWorldInputInput, type PretrainOutput } from '../schemas/workflow';
import { STAGE } from './search-attributes';
import { cpuActivities, deviceActivities } from './stages';
import { validateInput } from './validate';

// the output's type comes from its schema (schemas/json); exported here beside the code that makes it
export type { PretrainOutput };

const { prepareWorld } = cpuActivities('world');

/**
 * The embedded default's backbone: the world's data and untrained model, then pretraining on the prior
 * families (a checkpointed, resumable sft run). Both steps are content-hashed, so a second run with
 * the same recipe returns the cached backbone at once.
 */
export async function pretrain(input: PrepareWorldInputInput): Promise<PretrainOutput> {
  const resolved = validateInput(schemas.prepareWorldInput, input, 'pretrain');
  upsertSearchAttributes([{ key: STAGE, value: 'world' }]);
  const world = await prepareWorld(resolved);
  // the backbone the repository ships for this recipe and seed, when it matches (runs started before
  // backbones were shipped replay without this branch)
  if (world.pretrained && patched('shipped-backbone')) {
    upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
    return { world, backbone: world.pretrained.model, pretraining: world.pretrained.pretraining };
  }
  const { recipe } = world;
  upsertSearchAttributes([{ key: STAGE, value: 'pretrain' }]);
  const { sft } = deviceActivities(resolved.device, 'training');
  const pretraining = await sft({
    ...recipe.pretrain,
    ...resolved.pretrain,
    name: `backbone-${recipe.name}`,
    model: world.initialModel,
    dataset: world.pretrainData,
    device: resolved.device,
  });
  upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
  return { world, backbone: pretraining.model, pretraining };
}
