// trainRewriter survives a restart of the dev server mid-run (same SQLite file): it completes, every
// step's metrics line is there once, and the final adapter equals an uninterrupted run's, byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ArtifactStore, sha256File } from '../activities/artifact-store';
import { TASK_QUEUE } from '../workers/settings';
import type { TrainRewriterOutput, TrainRewriterProgress } from '../workflows/train-rewriter';
import { jsonl, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { useDevServer, workersAt } from './helpers/temporal';

const server = useDevServer();

test('trainRewriter survives a dev server restart with the same adapter as an uninterrupted run', async () => {
  const first = await server.start();
  const root = server.settings!.artifactRoot;
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
  const workers = (address: string) => workersAt(address, root);
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
  assert.ok(await server.stop());
  const second = await server.start();
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
