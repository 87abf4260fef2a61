import { upsertSearchAttributes } from '@temporalio/workflow';
import { schemas, type SftInputInput, type SftOutput } from '../schemas';
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
  const { sft: train } = deviceActivities(resolved.device, 'training');
  const out = await train(resolved);
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    { key: METRIC, value: out.finalLoss },
  ]);
  return out;
}
