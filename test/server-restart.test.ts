// The dev server is stopped while a workflow runs and started again on the same SQLite file: the
// workflow still completes. Uses the project's own server management (temporal/server.ts).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { readServerInfo, serverStatus, startDevServer, stopDevServer } from '../temporal/server';
import { TASK_QUEUE } from '../workers/settings';
import { RewriteRlPlugin } from '../workers/plugin';
import { mathRecord, put } from './helpers/data';
import { useDevServer, workflowBundle } from './helpers/temporal';

const server = useDevServer();

test('a workflow survives a dev server restart on the same SQLite file', async () => {
  const first = await server.start();
  const s = server.settings!;
  const home = s.home;
  assert.equal(first.reused, false);
  assert.ok(existsSync(join(home, 'temporal.sqlite')));
  assert.equal((await startDevServer(s)).reused, true, 'a server already on the port is reused');
  assert.equal((await serverStatus(s)).reachable, true);

  const source = await put(
    s.artifactRoot,
    'in/big.jsonl',
    Array.from({ length: 150_000 }, (_, i) => JSON.stringify(mathRecord(i))).join('\n'),
  );
  const nativeConnection = await NativeConnection.connect({ address: first.address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    plugins: [new RewriteRlPlugin({ artifactRoot: s.artifactRoot, workflowBundle: workflowBundle() })],
  });
  const running = worker.run();
  try {
    let connection = await Connection.connect({ address: first.address });
    let client = new Client({ connection });
    const handle = await client.workflow.start('importDataset', {
      taskQueue: TASK_QUEUE,
      workflowId: 'survives-restart',
      args: [{ source, map: { question: 'problem', answer: 'solution' } }],
    });
    for (let i = 0; i < 200; i++) {
      const d = await client.workflowService.describeWorkflowExecution({
        namespace: 'default',
        execution: { workflowId: handle.workflowId },
      });
      if (d.pendingActivities?.length) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await connection.close();

    const pid = readServerInfo(s)?.pid;
    assert.ok(await stopDevServer(s));
    assert.equal((await serverStatus(s)).reachable, false);
    const second = await startDevServer(s);
    assert.equal(second.reused, false);
    assert.notEqual(readServerInfo(s)?.pid, pid);

    connection = await Connection.connect({ address: second.address });
    client = new Client({ connection });
    const result = await client.workflow.getHandle('survives-restart').result();
    assert.equal(result.counts.valid, 150_000);
    await connection.close();
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
  }
});
