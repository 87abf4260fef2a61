// Records the event history of a real importDataset run (on the sample dataset) into
// test/histories/, for the replay test that guards workflow determinism. Run it by hand
// (`npx tsx scripts/record-history.ts` after `npm test` has built its cache) when a workflow change is
// meant to be incompatible, and keep the old history too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT, TASK_QUEUE } from '../temporal/settings';
import { put } from '../test/helpers/data';
import { cpuWorker, startTestServer, tempDir, testEnvFile } from '../test/helpers/temporal';
import { readFileSync } from 'node:fs';

const env = await startTestServer();
const root = await tempDir();
const worker = await cpuWorker(env, root);
const source = await put(
  root,
  'inputs/downstream.jsonl',
  readFileSync(join(PROJECT_ROOT, 'world/sample/downstream.jsonl')),
);
await worker.runUntil(async () => {
  const handle = await env.client.workflow.start('importDataset', {
    taskQueue: TASK_QUEUE,
    workflowId: 'import-dataset-history',
    args: [{ source, name: 'sample', map: { question: 'problem', answer: 'solution' } }],
  });
  await handle.result();
  // the CLI's JSON export is the standard format histories are shared in
  const address = env.connection.options.address;
  const json = execFileSync(
    testEnvFile().temporalBinary,
    ['workflow', 'show', '--address', address, '-w', handle.workflowId, '--output', 'json'],
    { encoding: 'utf8' },
  );
  const out = join(PROJECT_ROOT, 'test', 'histories', 'import-dataset.json');
  writeFileSync(out, json);
  console.log(`wrote ${out} (${JSON.parse(json).events.length} events)`);
});
await env.teardown();
