// trainRewriter survives a restart of the dev server mid-run (same SQLite file): it completes, every
// step's metrics line is there once, and the final adapter equals an uninterrupted run's, byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { TASK_QUEUE } from '../workers/settings';
import type { TrainRewriterOutput, TrainRewriterProgress } from '../workflows/train-rewriter';
import { adapterSha, metricLines, tinyRewriterInput } from './helpers/rewriter';
import { useDevServer, workersAt } from './helpers/temporal';

const server = useDevServer();

test('trainRewriter survives a dev server restart with the same adapter as an uninterrupted run', async () => {
  const first = await server.start();
  const root = server.settings!.artifactRoot;
  const input = await tinyRewriterInput(root, 8, { validation: { every: 4, samples: 1, limit: 2 } });
  const workers = (address: string) => workersAt(address, root);
  const adapterOf = (out: TrainRewriterOutput) => adapterSha(root, out);

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
  assert.deepEqual(
    metricLines(root, out).map((l) => l.step),
    [1, 2, 3, 4],
  );
  assert.equal(await adapterOf(out), await adapterOf(plain));
});
