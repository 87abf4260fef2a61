// importDataset end to end: a real Temporal dev server and a real worker with the plugin.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ArtifactStore } from '../activities/artifact-store';
import { TASK_QUEUE } from '../workers/settings';
import { RECORDS, STAGE } from '../workflows/search-attributes';
import { jsonl, mathRecord, put } from './helpers/data';
import { useTemporal } from './helpers/temporal';

const t = useTemporal();
let n = 0;

const map = { question: 'problem', answer: 'solution' };
const start = (input: unknown) =>
  t.env.client.workflow.start('importDataset', { taskQueue: TASK_QUEUE, workflowId: `import-${++n}`, args: [input] });

async function failureOf(handle: { result(): Promise<unknown> }) {
  const err = await handle.result().catch((e) => e);
  assert.ok(err instanceof WorkflowFailedError, `expected a failed workflow, got ${err}`);
  return err.cause;
}

async function eventTypes(workflowId: string): Promise<string[]> {
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => proto.temporal.api.enums.v1.EventType[e.eventType ?? 0]);
}

test('imports a file with good and bad lines and checks every output', async () => {
  const rows: unknown[] = Array.from({ length: 40 }, (_, i) => mathRecord(i));
  rows.splice(5, 0, '{"problem": "dangling"');
  rows.splice(9, 0, { problem: 'no solution' });
  rows.push(mathRecord(3)); // exact duplicate
  const source = await put(t.root, 'in/mixed.jsonl', jsonl(rows));
  const handle = await start({ source, map, maxBadFraction: 0.1, split: { testSize: 8 }, seed: 5, name: 'mixed' });
  const out = await handle.result();
  assert.deepEqual(out.counts, { read: 43, valid: 40, duplicates: 1, rejected: 2, train: 32, test: 8 });
  assert.deepEqual(
    out.rejectSample.map((r: { line: number; field: string; rule: string }) => [r.line, r.field, r.rule]),
    [
      [6, '$', 'json'],
      [10, 'solution', 'required'],
    ],
  );
  assert.equal(out.reused, false);
  assert.match(out.uri, /^artifact:\/\/datasets\/mixed-[0-9a-f]{12}$/);
  const store = new ArtifactStore(t.root);
  const read = (uri: string) => readFileSync(store.resolve(uri), 'utf8').trim().split('\n');
  assert.equal(read(out.train.uri).length, 32);
  assert.equal(read(out.test.uri).length, 8);
  assert.equal(read(out.rejects.uri).length, 2);
  for (const f of ['manifest.json', 'result.json', 'train.jsonl', 'test.jsonl', 'rejects.jsonl']) {
    assert.ok(existsSync(store.resolve(`${out.uri}/${f}`)), f);
  }
  const manifest = JSON.parse(readFileSync(store.resolve(`${out.uri}/manifest.json`), 'utf8'));
  assert.deepEqual(manifest.seeds, { split: 5 });
  assert.equal(manifest.config.split.testSize, 8);

  const described = await handle.describe();
  assert.equal(described.typedSearchAttributes.get(STAGE), 'done');
  assert.equal(described.typedSearchAttributes.get(RECORDS), 40);

  const again = await (
    await start({ source, map, maxBadFraction: 0.1, split: { testSize: 8 }, seed: 5, name: 'mixed' })
  ).result();
  assert.equal(again.reused, true);
  assert.equal(again.sha256, out.sha256);
});

test('invalid input fails at once, naming the field and rule, before any activity runs', async () => {
  const handle = await start({ source: 'in/x.jsonl', split: { testFraction: 3 }, mapping: {} });
  const cause = await failureOf(handle);
  assert.ok(cause instanceof ApplicationFailure);
  assert.equal(cause.type, 'InvalidInput');
  assert.equal(cause.nonRetryable, true);
  assert.match(cause.message, /\$\.split\.testFraction: must be <= 1 \(maximum\)/);
  assert.match(cause.message, /\$\.mapping: is not a known field \(additionalProperties\)/);
  const events = await eventTypes(handle.workflowId);
  assert.ok(events.includes('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED'), events.join(', '));
  assert.ok(!events.some((e) => e.includes('ACTIVITY')), `no activity may run: ${events.join(', ')}`);
});

test('a source path that escapes the artifact root is rejected before any activity runs', async () => {
  // the input schema refuses '..' segments in artifact references (the store refuses them again when
  // a path is resolved: test/artifact-store.test.ts)
  const handle = await start({ source: '../../etc/passwd', format: 'jsonl' });
  const cause = await failureOf(handle);
  assert.ok(cause instanceof ApplicationFailure);
  assert.equal(cause.type, 'InvalidInput');
  assert.match(cause.message, /\$\.source/);
  const events = await eventTypes(handle.workflowId);
  assert.ok(!events.some((e) => e.includes('ACTIVITY')), `no activity may run: ${events.join(', ')}`);
});

test('bad records fail the workflow (non-retryable) naming them, with the rejects file kept', async () => {
  const source = await put(
    t.root,
    'in/bad.jsonl',
    jsonl([mathRecord(1), { problem: 3, solution: 'x' }, mathRecord(2)]),
  );
  const cause = await failureOf(await start({ source, map }));
  assert.ok(cause instanceof ActivityFailure && cause.cause instanceof ApplicationFailure);
  assert.equal(cause.cause.type, 'BadRecords');
  assert.match(cause.cause.message, /bad\.jsonl:2: problem: "problem" must be a string, got a number \(type\)/);
  const rejectsUri = (cause.cause.details?.[0] as { rejectsUri: string }).rejectsUri;
  assert.equal(readFileSync(new ArtifactStore(t.root).resolve(rejectsUri), 'utf8').trim().split('\n').length, 1);
});

test('cancelling stops the running activity and leaves completed artifacts intact', async () => {
  const store = new ArtifactStore(t.root);
  const done = await (
    await start({ source: await put(t.root, 'in/small.jsonl', jsonl([mathRecord(1), mathRecord(2)])), map })
  ).result();
  const big = Array.from({ length: 400_000 }, (_, i) => JSON.stringify(mathRecord(i))).join('\n');
  const handle = await start({ source: await put(t.root, 'in/big.jsonl', big), map, name: 'big' });
  // wait until the activity has heartbeated progress, then cancel
  for (let i = 0; i < 200; i++) {
    const d = await t.env.client.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId: handle.workflowId },
    });
    if (d.pendingActivities?.[0]?.heartbeatDetails) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await handle.cancel();
  const cause = await failureOf(handle);
  assert.ok(cause instanceof CancelledFailure || cause?.cause instanceof CancelledFailure, String(cause));
  const events = await eventTypes(handle.workflowId);
  assert.ok(
    events.some((e) => e.includes('ACTIVITY_TASK_CANCELED')),
    `the activity acknowledged the cancellation: ${events.join(', ')}`,
  );
  const leftovers = readdirSync(store.resolve('datasets')).filter(
    (f) => f.startsWith('big') || f.startsWith('.tmp-big'),
  );
  assert.deepEqual(leftovers, [], 'no partial output');
  assert.ok(existsSync(store.resolve(`${done.uri}/manifest.json`)), 'earlier artifacts intact');
});
