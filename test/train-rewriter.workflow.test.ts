// trainRewriter on a real dev server with real workers and a tiny random model: a run completes with
// one metrics line per step; killing the device worker in rollout, reward or update, restarting the
// server, pausing, adjusting and continuing as new all end with the same adapter, byte for byte, as
// an uninterrupted run; a bad adjustment is rejected naming its field; a NaN stops the run clearly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ArtifactStore } from '../activities/artifact-store';
import { schemas } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import type { TrainRewriterOutput, TrainRewriterProgress } from '../workflows/train-rewriter';
import { adapterSha as adapterOfRun, metricLines, tinyRewriterInput } from './helpers/rewriter';
import { deviceWorkerProcess as spawnDeviceWorker, killWorkerProcesses, useTemporal } from './helpers/temporal';

// the worker processes first: they outlive a stopped server only to log errors
after(killWorkerProcesses);
let base: Record<string, unknown>;
const t = useTemporal({
  setup: async ({ root }) => {
    base = await tinyRewriterInput(root, 12, {
      heartbeatTimeout: '3 seconds',
      validation: { every: 2, samples: 2, limit: 3 },
    });
  },
});

const deviceWorkerProcess = () => spawnDeviceWorker(t.env.connection.options.address, t.root);

const store = () => new ArtifactStore(t.root);
const adapterSha = (out: TrainRewriterOutput) => adapterOfRun(t.root, out);
const metricSteps = (out: TrainRewriterOutput) => metricLines(t.root, out);

async function waitFor(handle: WorkflowHandle, ok: (p: TrainRewriterProgress) => boolean) {
  // Polls the query alone, as often as it answers: a stage whose work is reused from the reference run
  // lasts tens of milliseconds, and a describe and a sleep between two queries missed it on a fast
  // machine. Whether the run has ended is asked every 25th poll.
  const deadline = Date.now() + 120_000;
  for (let i = 0; Date.now() < deadline; i++) {
    const p = await handle.query<TrainRewriterProgress>('progress').catch(() => undefined);
    if (p) schemas.trainRewriterProgress.parse(p);
    if (p && ok(p)) return p;
    if (p && i % 25 !== 0) continue;
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING' && status.name !== 'CONTINUED_AS_NEW') {
      throw new Error(
        `the run ended (${status.name}) before reaching the awaited state; last progress ${JSON.stringify(p)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the run never reached the awaited state');
}

let reference: { sha: string; out: TrainRewriterOutput };

test('a run completes: one metrics line per step, validations, the best checkpoint kept', async () => {
  const w = await deviceWorkerProcess();
  const out = (await t.env.client.workflow.execute('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-reference',
    args: [{ ...base, name: 'ref' }],
  })) as TrainRewriterOutput;
  w.kill('SIGTERM');
  // the output is what its schema says (schemas/json/train-rewriter-output.schema.json)
  schemas.trainRewriterOutput.parse(out);
  // PEFT finds the base by the adapter's base_model_name_or_path: the backbone's folder, not an artifact:// URI
  const adapterConfig = JSON.parse(
    readFileSync(join(store().resolve(out.last.adapter!), 'adapter_config.json'), 'utf8'),
  );
  assert.equal(adapterConfig.base_model_name_or_path, store().resolve(out.backbone.uri));
  assert.equal(out.steps, 4);
  assert.deepEqual(
    metricSteps(out).map((m) => m.step),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    out.validations.map((v) => v.step),
    [0, 2, 4],
  );
  assert.ok(out.last.adapter);
  reference = { sha: await adapterSha(out), out };
  // the curves, drawn by the figure module: a line per metric over the steps
  const curves = readFileSync(store().resolve(out.curves), 'utf8');
  assert.match(curves, /^<svg[^]*full pass rate \(rollouts\)[^]*<\/svg>\s*$/);
  // an adapter moved by training differs from the initial one
  const first = JSON.parse(
    readFileSync(store().resolve(out.metrics).replace('metrics.jsonl', 'metrics/000001.json'), 'utf8'),
  );
  assert.ok(first.gradNorm > 0, 'the update had a gradient');
});

for (const stage of ['rollout', 'reward', 'update'] as const) {
  test(`SIGKILL of the device worker during ${stage}: the run completes with the same adapter`, async () => {
    const first = await deviceWorkerProcess();
    const handle = await t.env.client.workflow.start('trainRewriter', {
      taskQueue: TASK_QUEUE,
      workflowId: `tr-kill-${stage}`,
      args: [{ ...base, name: `kill-${stage}` }],
    });
    await waitFor(handle, (p) => p.step === 1 && p.stage === stage);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const second = await deviceWorkerProcess();
    const out = (await handle.result()) as TrainRewriterOutput;
    second.kill('SIGTERM');
    assert.deepEqual(
      metricSteps(out).map((m) => m.step),
      [1, 2, 3, 4],
      'every step once',
    );
    assert.equal(await adapterSha(out), reference.sha, 'byte-identical final adapter');
  });
}

test('pause stops new steps, resume continues; adjust is validated and applies from the next step', async () => {
  const w = await deviceWorkerProcess();
  await t.env.client.workflow.start('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-steer',
    // continue-as-new after every step: the pause state and adjustments must survive it
    args: [{ ...base, name: 'steer', continueAsNewEvery: 1 }],
  });
  // the latest run of the chain (a handle from start() is pinned to the first run)
  const handle = t.env.client.workflow.getHandle('tr-steer');
  await waitFor(handle, (p) => p.step >= 1);
  // pause first: a run of four short steps may otherwise finish before the signal arrives
  await handle.signal('pause');
  const paused = await waitFor(handle, (p) => p.paused && p.stage === 'paused');
  await assert.rejects(
    handle.executeUpdate('adjust', { args: [{ learningRate: -1 }] }),
    (e: unknown) => e instanceof WorkflowUpdateFailedError && /learningRate/.test(String(e.cause?.message)),
  );
  await assert.rejects(
    handle.executeUpdate('adjust', { args: [{ bogus: 1 }] }),
    (e: unknown) => e instanceof WorkflowUpdateFailedError && /bogus/.test(String(e.cause?.message)),
  );
  await new Promise((r) => setTimeout(r, 1500));
  const still = await waitFor(handle, () => true);
  assert.equal(still.step, paused.step, 'no step while paused');
  const settings = schemas.rewriterSettings.parse(
    await handle.executeUpdate('adjust', { args: [{ lambdaDiv: 0.25 }] }),
  );
  assert.equal(settings.lambdaDiv, 0.25);
  await handle.signal('resume');
  const out = (await handle.result()) as TrainRewriterOutput;
  w.kill('SIGTERM');
  const lines = metricSteps(out);
  assert.deepEqual(
    lines.map((m) => m.step),
    [1, 2, 3, 4],
  );
  const from = out.adjustments[0].fromStep;
  assert.equal(from, paused.step + 1);
  for (const m of lines) assert.equal(m.settings.lambdaDiv, m.step >= from ? 0.25 : 0.5, `step ${m.step}`);
});

test('continue-as-new every step changes nothing in the result', async () => {
  const w = await deviceWorkerProcess();
  const out = (await t.env.client.workflow.execute('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-can',
    args: [{ ...base, name: 'can', continueAsNewEvery: 1 }],
  })) as TrainRewriterOutput;
  w.kill('SIGTERM');
  assert.equal(await adapterSha(out), reference.sha);
  assert.deepEqual(
    out.validations.map((v) => [v.step, v.greedyFullPassRate]),
    reference.out.validations.map((v) => [v.step, v.greedyFullPassRate]),
  );
});

test('a NaN in the update stops the run, naming the step and the last good checkpoint', async () => {
  const w = await deviceWorkerProcess();
  const err = await t.env.client.workflow
    .execute('trainRewriter', {
      taskQueue: TASK_QUEUE,
      workflowId: 'tr-nan',
      args: [{ ...base, name: 'nan', faults: { nonFiniteAtStep: 2 } }],
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  w.kill('SIGTERM');
  assert.ok(err instanceof WorkflowFailedError);
  let cause: unknown = err.cause;
  while (cause instanceof Error && cause.cause) cause = cause.cause;
  const message = String((cause as Error).message);
  assert.match(message, /step 2/);
  assert.match(message, /steps\/000001\/adapter/);
});
