import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { DeviceActivities } from '../activities';
import { schemas, type SftInputInput, type SftOutput } from '../schemas';
import { METRIC, STAGE } from './search-attributes';
import { deviceTaskQueue } from './task-queues';
import { validateInput } from './validate';

/**
 * Fine-tunes a model (full or LoRA) on a dataset; see sft-input.schema.json. The device activity
 * checkpoints into the artifact store, so a retry after a crash or a killed worker resumes from the
 * last checkpoint.
 */
export async function sft(input: SftInputInput): Promise<SftOutput> {
  const resolved = validateInput(schemas.sftInput, input, 'sft');
  upsertSearchAttributes([{ key: STAGE, value: 'sft' }]);
  const { sft: train } = proxyActivities<DeviceActivities>({
    taskQueue: deviceTaskQueue(resolved.device),
    startToCloseTimeout: '7 days',
    // the activity heartbeats every few seconds even inside a long program, so a dead worker is
    // noticed within this and the retry resumes from the last checkpoint
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 10, initialInterval: '1 second' },
  });
  const out = await train(resolved);
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    { key: METRIC, value: out.finalLoss },
  ]);
  return out;
}
