// What the plugin checks when a worker starts: the project's search attributes on a server that lacks
// them (registered, or a clear error at once naming the command), and the artifact root it logs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { missingSearchAttributes, searchAttributeCommand } from '../workers/search-attributes';
import { TASK_QUEUE } from '../workers/settings';
import { RewriteRlPlugin } from '../workers/plugin';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { quietRuntime, tempDir, testEnvFile, workflowBundle } from './helpers/temporal';

const NAMES = ALL_SEARCH_ATTRIBUTES.map((k) => k.name);

/** A dev server started without the project's search attributes, as `temporal server start-dev` is. */
async function plainServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: testEnvFile().temporalBinary }, ip: '127.0.0.1' },
  });
}

async function cpuWorkerOn(env: TestWorkflowEnvironment, o: { searchAttributes?: 'register' | 'check' | 'off' }) {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: `${TASK_QUEUE}-${Math.random().toString(36).slice(2)}`,
    plugins: [new RewriteRlPlugin({ artifactRoot: await tempDir(), workflowBundle: workflowBundle(), ...o })],
  });
}

test('on a server without the search attributes, a checking worker fails within seconds naming the command', async () => {
  const env = await plainServer();
  try {
    const namespace = env.namespace ?? 'default';
    assert.deepEqual(await missingSearchAttributes(env.connection, namespace), NAMES);
    const worker = await cpuWorkerOn(env, { searchAttributes: 'check' });
    const t0 = Date.now();
    const err = await worker.run().then(
      () => undefined,
      (e: Error) => e,
    );
    const ms = Date.now() - t0;
    assert.ok(err, 'the worker must not start polling');
    assert.equal(err.name, 'SearchAttributesMissingError');
    assert.ok(err.message.includes(searchAttributeCommand(namespace)), err.message);
    assert.match(
      searchAttributeCommand(namespace),
      /^temporal operator search-attribute create --namespace default --name RewriteRlStage --type Keyword --name RewriteRlStep --type Int .*--name RewriteRlMetric --type Double$/,
    );
    assert.ok(ms < 10_000, `failed after ${ms} ms`);
    assert.deepEqual(await missingSearchAttributes(env.connection, namespace), NAMES, 'check registers nothing');
  } finally {
    await env.teardown();
  }
});

test('by default the worker registers the missing search attributes and runs', async () => {
  const env = await plainServer();
  try {
    const namespace = env.namespace ?? 'default';
    const worker = await cpuWorkerOn(env, {});
    const running = worker.run();
    const deadline = Date.now() + 30_000;
    while (worker.getState() !== 'RUNNING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(worker.getState(), 'RUNNING');
    assert.deepEqual(await missingSearchAttributes(env.connection, namespace), []);
    worker.shutdown();
    await running;
  } finally {
    await env.teardown();
  }
});

test('the plugin resolves its artifact root once, to an absolute path', () => {
  const plugin = new RewriteRlPlugin({ activities: 'none', artifactRoot: 'some/relative/store' });
  assert.equal(plugin.artifactRoot, `${process.cwd()}/some/relative/store`);
});
