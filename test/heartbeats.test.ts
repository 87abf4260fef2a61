// Device programs run off the activity's event loop, so heartbeats keep flowing while one runs.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ArtifactStore, createDeviceActivities, DeviceSession } from '../activities';
import { jsonl, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

test('heartbeats keep arriving during a long training run', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const acts = createDeviceActivities({ store, device: 'cpu', session, heartbeatEveryMs: 100 });
  const rows = Array.from({ length: 64 }, (_, i) => ({
    id: `r${i}`,
    question: `what is ${i} plus ${i}`,
    answer: `it is ${2 * i}, so \\boxed{${2 * i}}`,
  }));
  const input = {
    model: { uri: await putTinyModel(root) },
    dataset: await put(root, 'data/train.jsonl', jsonl(rows)),
    epochs: 64,
    batchSize: 64,
    learningRate: 1e-3,
    stepsPerRun: 64, // the whole training is one onnxruntime run
    checkpointEvery: 1000,
  };
  const env = new MockActivityEnvironment();
  const beats: number[] = [];
  env.on('heartbeat', () => beats.push(Date.now()));
  const t0 = Date.now();
  const out = (await env.run(acts.sft, input)) as { steps: number };
  const ms = Date.now() - t0;
  assert.equal(out.steps, 64);
  const gaps = beats.slice(1).map((b, i) => b - beats[i]);
  assert.ok(ms > 800, `the run took ${ms} ms: long enough to tell`);
  assert.ok(beats.length >= ms / 300, `${beats.length} heartbeats in ${ms} ms`);
  assert.ok(Math.max(...gaps) < 600, `longest gap between heartbeats ${Math.max(...gaps)} ms`);
});
