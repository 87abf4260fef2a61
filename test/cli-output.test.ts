// What the CLI prints, without a server: failures without the worker's log blob, and results rendered
// for a person from each workflow's typed output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogEntry } from '@temporalio/worker';
import { quietLog } from '../temporal/cli/common';
import { probeTable, WORKFLOW_NAMES } from '../temporal/cli/render';

function logged(entry: Partial<LogEntry>): string {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string) => ((text += chunk), true)) as typeof process.stderr.write;
  try {
    quietLog({ level: 'WARN', timestampNanos: 0n, message: '', ...entry } as LogEntry);
  } finally {
    process.stderr.write = write;
  }
  return text;
}

test("a failed activity reaches the user once, through the workflow's failure, not as the worker's warning", () => {
  assert.equal(logged({ message: 'Activity failed', meta: { taskToken: 'AAAA', error: 'x' } }), '');
  assert.equal(logged({ message: 'No workflows registered, not polling for workflow tasks' }), '');
  assert.match(logged({ message: 'something else went wrong' }), /\[WARN\] something else went wrong/);
});

test('every workflow the plugin registers has a renderer, so `run` knows it by name', async () => {
  const workflows = await import('../workflows');
  // `default` answers workflow types no worker has; it is not started by name
  assert.deepEqual(
    [...WORKFLOW_NAMES].sort(),
    Object.keys(workflows)
      .filter((k) => k !== 'default')
      .sort(),
  );
});

test('the probe table: one row per temperature, greedy first', () => {
  const run = {
    records: 4,
    passRate: 0.5,
    answerPassRate: 0.75,
    samplePassRate: 0.25,
    sampleAnswerPassRate: 0.5,
    copyRate: 0,
    truncated: 1,
    uri: 'r',
    seed: 0,
  };
  const table = probeTable({
    recipe: 'test',
    arm: 'foreign',
    backbone: { uri: 'b' },
    dataset: 'd',
    runs: [
      { ...run, temperature: 0, samples: 1 },
      { ...run, temperature: 0.8, samples: 2 },
    ],
  } as Parameters<typeof probeTable>[0]);
  assert.match(table, /\(test recipe, foreign training set, 4 records\)/);
  // the full gate's rates, each beside its answer-only rate
  assert.match(table, /\| greedy \| 1 \| 50\.0% \| 75\.0% \| 25\.0% \| 50\.0% \| 0\.0% \| 1 \|/);
  assert.match(table, /\| 0\.8 \| 2 \| 50\.0% \|/);
});
