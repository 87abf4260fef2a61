import { upsertSearchAttributes } from '@temporalio/workflow';
import { schemas, type ImportDatasetInputInput, type ImportDatasetOutput } from '../schemas/workflow';
import { RECORDS, STAGE } from './search-attributes';
import { cpuActivities } from './stages';
import { validateInput } from './validate';

const { importDataset: importActivity } = cpuActivities('import');

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
