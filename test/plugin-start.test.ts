// What the plugin checks when a worker starts: the project's search attributes on a server that lacks
// them (registered, or a clear error at once naming the command), and the artifact root it logs and
// shares with the other workers of its namespace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { identityWithRoot, rootOfIdentity } from '../workers/artifact-root';
import { missingSearchAttributes, searchAttributeCommand } from '../workers/search-attributes';
import { TASK_QUEUE } from '../workers/settings';
import { RewriteRlPlugin } from '../workers/plugin';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import {
  cpuWorker,
  deviceWorker,
  quietRuntime,
  startTestServer,
  tempDir,
  testEnvFile,
  workflowBundle,
} from './helpers/temporal';

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

async function cpuWorkerVia(connection: NativeConnection, artifactRoot: string) {
  return Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    plugins: [new RewriteRlPlugin({ artifactRoot, workflowBundle: workflowBundle() })],
  });
}

test('a worker whose artifact root differs from that of a worker polling the same queues is refused, naming both', async () => {
  const env = await startTestServer();
  const [rootA, rootB] = [await tempDir(), await tempDir()];
  const first = await cpuWorker(env, rootA);
  const running = first.run();
  // another process, as far as the SDK knows (one connection takes one worker per task queue)
  const other = await NativeConnection.connect({ address: env.address });
  try {
    // the server reports a poller once its first poll arrives
    const deadline = Date.now() + 20_000;
    const seen = async () => {
      const { pollers } = await env.connection.workflowService.describeTaskQueue({
        namespace: env.namespace ?? 'default',
        taskQueue: { name: TASK_QUEUE },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return (pollers ?? []).some((p) => p.identity && rootOfIdentity(p.identity) === rootA);
    };
    while (!(await seen())) {
      assert.ok(Date.now() < deadline, 'the first worker never polled');
      await new Promise((r) => setTimeout(r, 200));
    }
    // a second worker with the same root starts (checked first: a refused worker may leave its poll behind)
    const device = await deviceWorker(env, rootA);
    const deviceRun = device.run();
    const until = Date.now() + 20_000;
    while (device.getState() !== 'RUNNING' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(device.getState(), 'RUNNING');
    device.shutdown();
    await deviceRun;
    for (const [label, make] of [
      ['a device worker', () => deviceWorker(env, rootB)],
      ['a second workflow worker', () => cpuWorkerVia(other, rootB)],
    ] as const) {
      const worker = await make();
      const t0 = Date.now();
      const err = await worker.run().then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(err, `${label} must not start`);
      assert.equal(err.name, 'ArtifactRootConflictError', `${label}: ${err.stack}`);
      assert.ok(err.message.includes(`this worker's artifact root is ${rootB}`), err.message);
      assert.ok(err.message.includes(`with the artifact root ${rootA};`), err.message);
      assert.match(err.message, /polled the task queue rewrite-rl(-device-cpu)? \d+ s ago/);
      assert.ok(Date.now() - t0 < 10_000, `${label} was refused after ${Date.now() - t0} ms`);
    }
  } finally {
    first.shutdown();
    await running;
    await other.close();
    await env.teardown();
  }
});

test('the artifact root travels in the worker identity, after the identity the user gave', () => {
  assert.equal(identityWithRoot('me@host', '/data/my store'), 'me@host rewrite-rl-artifacts=/data/my store');
  assert.equal(rootOfIdentity('me@host rewrite-rl-artifacts=/data/my store'), '/data/my store');
  assert.equal(rootOfIdentity('1234@host'), undefined);
  assert.match(identityWithRoot(undefined, '/s'), new RegExp(`^${process.pid}@.+ rewrite-rl-artifacts=/s$`));
});
