// The sft workflow survives a killed device worker: a new worker resumes from the last checkpoint.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import proto from '@temporalio/proto';
import { ArtifactStore } from '../activities/artifact-store';
import { TASK_QUEUE } from '../workers/settings';
import { jsonl, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { deviceWorkerProcess as spawnDeviceWorker, killWorkerProcesses, useTemporal } from './helpers/temporal';

// the worker processes first: they outlive a stopped server only to log errors
after(killWorkerProcesses);
const t = useTemporal();
const deviceWorkerProcess = () => spawnDeviceWorker(t.env.connection.options.address, t.root);

test('killing the device worker mid-run: a new worker finishes it from the last checkpoint', async () => {
  const rows = Array.from({ length: 6 }, (_, i) => ({
    id: `r${i}`,
    question: `what is ${i} plus 1`,
    answer: `${i + 1}`,
  }));
  const input = {
    name: 'killed',
    model: { uri: await putTinyModel(t.root) },
    dataset: await put(t.root, 'data/train.jsonl', jsonl(rows)),
    epochs: 800,
    batchSize: 2,
    learningRate: 1e-3,
    checkpointEvery: 200,
    stepsPerRun: 20,
  };
  const first = await deviceWorkerProcess();
  const handle = await t.env.client.workflow.start('sft', {
    taskQueue: TASK_QUEUE,
    workflowId: 'sft-killed',
    args: [input],
  });
  const work = join(t.root, 'work');
  const checkpoint = () =>
    existsSync(work) && readdirSync(work).some((d) => existsSync(join(work, d, 'checkpoint.safetensors')));
  for (let i = 0; i < 3000 && !checkpoint(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(checkpoint(), 'a checkpoint was written');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  const second = await deviceWorkerProcess();
  const out = await handle.result();
  second.kill('SIGTERM');
  assert.equal(out.steps, 2400);
  const log = readFileSync(new ArtifactStore(t.root).resolve(out.log), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).step);
  assert.deepEqual(
    log,
    Array.from({ length: 2400 }, (_, i) => i),
    'every step once, in order',
  );
  const history = await handle.fetchHistory();
  const attempts = (history.events ?? [])
    .filter((e) => e.eventType === proto.temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    .map((e) => e.activityTaskStartedEventAttributes?.attempt);
  assert.deepEqual(attempts, [2], 'the activity ran again on the new worker (its first attempt timed out)');
});
