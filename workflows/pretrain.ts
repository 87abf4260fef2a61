import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { CpuActivities, DeviceActivities } from '../activities';
import { schemas, type ModelRef, type PrepareWorldInputInput, type SftOutput, type WorldOutput } from '../schemas';
import { STAGE } from './search-attributes';
import { deviceTaskQueue } from './task-queues';
import { validateInput } from './validate';

export interface PretrainOutput {
  world: WorldOutput;
  backbone: ModelRef;
  pretraining: SftOutput;
}

const { prepareWorld } = proxyActivities<CpuActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * The embedded default's backbone: the world's data and untrained model, then pretraining on the prior
 * families (a checkpointed, resumable sft run). Both steps are content-hashed, so a second run with
 * the same recipe returns the cached backbone at once.
 */
export async function pretrain(input: PrepareWorldInputInput): Promise<PretrainOutput> {
  const resolved = validateInput(schemas.prepareWorldInput, input, 'pretrain');
  upsertSearchAttributes([{ key: STAGE, value: 'world' }]);
  const world = await prepareWorld(resolved);
  const recipe = world.recipe as { name: string; pretrain: Record<string, unknown> };
  upsertSearchAttributes([{ key: STAGE, value: 'pretrain' }]);
  const { sft } = proxyActivities<DeviceActivities>({
    taskQueue: deviceTaskQueue(resolved.device),
    startToCloseTimeout: '7 days',
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 10, initialInterval: '1 second' },
  });
  const pretraining = await sft({
    ...recipe.pretrain,
    name: `backbone-${recipe.name}`,
    model: world.initialModel,
    dataset: world.pretrainData,
    device: resolved.device,
  });
  upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
  return { world, backbone: pretraining.model, pretraining };
}
