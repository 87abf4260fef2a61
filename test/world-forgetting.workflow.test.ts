// The main job's workflow end to end with the seconds-long test recipe: pretrain, SFT arms,
// evaluation of the base and each arm, and the forgetting report.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { ArtifactStore } from '../activities/artifact-store';
import { TASK_QUEUE } from '../temporal/settings';
import { cpuWorker, deviceWorker, startTestServer, tempDir } from './helpers/temporal';

let env: TestWorkflowEnvironment;
let workers: Worker[];
let running: Promise<unknown>;
let root: string;

before(async () => {
  env = await startTestServer();
  root = await tempDir();
  workers = [await cpuWorker(env, root), await deviceWorker(env, root)];
  running = Promise.all(workers.map((w) => w.run()));
});

after(async () => {
  for (const w of workers) w.shutdown();
  await running;
  await env.teardown();
});

test('worldForgetting: pretrain, fine-tune two arms, evaluate three models, report forgetting', async () => {
  const out = await env.client.workflow.execute('worldForgetting', {
    taskQueue: TASK_QUEUE,
    workflowId: 'world-forgetting',
    args: [{ recipe: 'test', arms: ['foreign', 'oracle'] }],
  });
  assert.deepEqual(Object.keys(out.arms), ['foreign', 'oracle']);
  assert.equal(out.base.results.length, 6);
  assert.notDeepEqual(out.arms.foreign.model, out.arms.oracle.model);
  assert.match(out.report.markdown, /### Forgetting on the general benchmarks, strict extraction/);
  assert.match(out.report.markdown, /\| foreign \(forgetting\) \|/);
  assert.match(out.report.markdown, /\| oracle \| /);
  const json = JSON.parse(readFileSync(new ArtifactStore(root).resolve(`${out.report.uri}/forgetting.json`), 'utf8'));
  assert.deepEqual(json.strict.benchmarks, ['arithmetic', 'comparison', 'strings', 'counting', 'facts']);
  const children = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "world-forgetting/"` }))
    children.push(w.workflowId);
  assert.deepEqual(children.sort(), [
    'world-forgetting/evaluate-base',
    'world-forgetting/evaluate-foreign',
    'world-forgetting/evaluate-oracle',
    'world-forgetting/pretrain',
    'world-forgetting/sft-foreign',
    'world-forgetting/sft-oracle',
  ]);
});
