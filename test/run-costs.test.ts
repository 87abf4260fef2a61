// `rewrite-rl costs`: a run's time per stage, read from a committed history of a real pipeline run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { costsTable, runCosts } from '../temporal/run-costs';

const events = historyFromJSON(
  JSON.parse(readFileSync(join(import.meta.dirname, 'histories', 'pipeline-with-report.json'), 'utf8')),
).events!;
const ROOT = 'pipeline-with-report-history';
const scheduled = (type: string) =>
  events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;

test('costs: every activity of the run under its stage, work and queue time apart; a child under its name', async () => {
  const children = events.flatMap(
    (e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId ?? [],
  );
  const sft = children.find((c) => c.endsWith('/sft-vanilla-s0'));
  assert.ok(sft, 'the history started an SFT child');
  // the child's history: here the run's own activities again (without its children), so its stage has
  // as many activities as the run
  const childEvents = events.filter((e) => !e.childWorkflowExecutionStartedEventAttributes);
  const r = await runCosts(async (id) => (id === ROOT ? events : id === sft ? childEvents : []), ROOT);
  const own = r.stages.filter((s) => s.stage !== 'sft-vanilla-s0');
  const count = (prefix: string) => own.filter((s) => s.stage.startsWith(prefix)).reduce((n, s) => n + s.activities, 0);
  for (const type of ['rewriteDataset', 'scoreDataset', 'armData', 'pipelineReport'])
    assert.equal(count(type), scheduled(type), type);
  const total = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
  assert.equal(r.stages.find((s) => s.stage === 'sft-vanilla-s0')!.activities, total);
  // each arm's score is its own stage, named by its data's folder
  assert.ok(own.some((s) => s.stage === 'scoreDataset vanilla-s0'));
  for (const s of r.stages) assert.ok(s.workMs >= 0 && s.queuedMs >= 0, s.stage);
  const work = own.reduce((t, s) => t + s.workMs, 0);
  assert.ok(work > 0 && work <= r.wallMs, `work ${work} ms within the wall time ${r.wallMs} ms`);
  const table = costsTable(r).join('\n');
  assert.match(table, /\| kind of stage \| stages \| on a worker \(min\) \|/);
  assert.match(table, /work on rewrite-rl-device-cpu: \d+\.\d min/);
});
