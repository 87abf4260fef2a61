import { ActivityCancellationType, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { CpuActivities } from '../activities';
import { schemas, type ImportDatasetInputInput, type ImportDatasetOutput } from '../schemas';
import { RECORDS, STAGE } from './search-attributes';
import { validateInput } from './validate';

const { importDataset: importActivity } = proxyActivities<CpuActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  // a cancelled workflow waits for the activity to stop and clean up its temporary files
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 5, initialInterval: '1 second' },
});

/** Imports a downstream dataset into the artifact store; see schemas/json/import-dataset-input.schema.json. */
export async function importDataset(input: ImportDatasetInputInput): Promise<ImportDatasetOutput> {
  const resolved = validateInput(schemas.importDatasetInput, input, 'importDataset');
  upsertSearchAttributes([{ key: STAGE, value: 'import' }]);
  const result = await importActivity(resolved);
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    { key: RECORDS, value: result.counts.valid },
  ]);
  return result;
}
