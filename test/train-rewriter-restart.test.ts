// trainRewriter survives a restart of the dev server mid-run (same SQLite file): it completes, every
// step's metrics line is there once, and the final adapter equals an uninterrupted run's, byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ArtifactStore, sha256File } from '../activities/artifact-store';
import { startDevServer, stopDevServer } from '../temporal/server';
import { settingsFromEnv, TASK_QUEUE } from '../workers/settings';
import { RewriteRlPlugin } from '../workers/plugin';
import { deviceTaskQueue } from '../workflows/task-queues';
import type { TrainRewriterOutput, TrainRewriterProgress } from '../workflows/train-rewriter';
import { jsonl, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { freePort } from './helpers/ports';
import { quietRuntime, tempDir, workflowBundle } from './helpers/temporal';

let settings: ReturnType<typeof settingsFromEnv> | undefined;
after(async () => {
  if (settings) await stopDevServer(settings);
});

test('trainRewriter survives a dev server restart with the same adapter as an uninterrupted run', async () => {
  quietRuntime();
  const home = await tempDir();
  const s = settingsFromEnv({
    REWRITE_RL_HOME: home,
    REWRITE_RL_SERVER_PORT: String(await freePort()),
    REWRITE_RL_UI_PORT: String(await freePort()),
  });
  settings = s;
  const first = await startDevServer(s);
  const root = s.artifactRoot;
  const rows = Array.from({ length: 8 }, (_, i) => ({
    id: `r${i}`,
    question: `What is ${i} + 2?`,
    answer: `${i} + 2 = ${i + 2}\n\\boxed{${i + 2}}`,
  }));
  const input = {
    preset: 'test',
    backbone: { uri: await putTinyModel(root) },
    dataset: await put(root, 'data/train.jsonl', jsonl(rows)),
    steps: 4,
    maxNewTokens: 8,
    gateInReward: false,
    validation: { every: 4, samples: 1, limit: 2 },
  };
  const workers = async (address: string) => {
    const connection = await NativeConnection.connect({ address });
    const ws = [
      await Worker.create({
        connection,
        taskQueue: TASK_QUEUE,
        plugins: [new RewriteRlPlugin({ activities: 'cpu', artifactRoot: root, workflowBundle: workflowBundle() })],
      }),
      await Worker.create({
        connection,
        taskQueue: deviceTaskQueue('cpu'),
        maxConcurrentActivityTaskExecutions: 1,
        plugins: [new RewriteRlPlugin({ activities: 'device', device: 'cpu', artifactRoot: root })],
      }),
    ];
    const running = Promise.all(ws.map((w) => w.run()));
    return async () => {
      for (const w of ws) w.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    };
  };
  const adapterOf = (out: TrainRewriterOutput) =>
    sha256File(join(new ArtifactStore(root).resolve(out.last.adapter!), 'adapter_model.safetensors'));

  let stop = await workers(first.address);
  let connection = await Connection.connect({ address: first.address });
  let client = new Client({ connection });
  const plain = (await client.workflow.execute('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-plain',
    args: [{ ...input, name: 'plain' }],
  })) as TrainRewriterOutput;
  const handle = await client.workflow.start('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-restart',
    args: [{ ...input, name: 'restart' }],
  });
  for (let i = 0; i < 3000; i++) {
    const p = await handle.query<TrainRewriterProgress>('progress').catch(() => undefined);
    if (p && p.step >= 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await stop();
  await connection.close();
  assert.ok(await stopDevServer(s));
  const second = await startDevServer(s);
  stop = await workers(second.address);
  connection = await Connection.connect({ address: second.address });
  client = new Client({ connection });
  const out = (await client.workflow.getHandle('tr-restart').result()) as TrainRewriterOutput;
  await stop();
  await connection.close();
  const steps = readFileSync(new ArtifactStore(root).resolve(out.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2, 3, 4]);
  assert.equal(await adapterOf(out), await adapterOf(plain));
});
