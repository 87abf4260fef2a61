// Workflow determinism: committed histories of real runs replay against the current workflow code.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './helpers/temporal';

const dir = join(import.meta.dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are committed histories for every workflow', () => {
  for (const f of ['import-dataset.json', 'evaluate.json', 'sft.json', 'train-rewriter.json'])
    assert.ok(files.includes(f), `${f} among ${files.join(', ')}`);
});

for (const file of files) {
  test(`the committed history ${file} replays without a nondeterminism error`, async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, file.replace('.json', ''));
  });
}
