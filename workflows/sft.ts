import { upsertSearchAttributes } from '@temporalio/workflow';
import { schemas, type SftInputInput, type SftOutput } from '../schemas/workflow';
import { METRIC, STAGE } from './search-attributes';
import { deviceActivities } from './stages';
import { validateInput } from './validate';

/**
 * Fine-tunes a model (full or LoRA) on a dataset; see sft-input.schema.json. The device activity
 * checkpoints into the artifact store, so a retry after a crash or a killed worker resumes from the
 * last checkpoint.
 */
export async function sft(input: SftInputInput): Promise<SftOutput> {
  const resolved = validateInput(schemas.sftInput, input, 'sft');
  upsertSearchAttributes([{ key: STAGE, value: 'sft' }]);
  // the timeout is how the workflow watches the activity, not a training setting: it stays out of the
  // activity's input, so it never changes the result's content key
  const { heartbeatTimeout, ...recipe } = resolved;
  const { sft: train } = deviceActivities(resolved.device, 'training', heartbeatTimeout ? { heartbeatTimeout } : {});
  const out = await train(recipe);
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    { key: METRIC, value: out.finalLoss },
  ]);
  return out;
}
