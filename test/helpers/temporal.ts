// Test helpers for real orchestration: a real Temporal dev server (the project's binary, on free ports)
// and real workers with the plugin, using the workflow bundle made once per run by scripts/test-setup.ts.
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { PROJECT_ROOT, TASK_QUEUE } from '../../workers/settings';
import { RewriteRlPlugin } from '../../workers/plugin';
import { deviceTaskQueue } from '../../workflows/task-queues';

let runtimeInstalled = false;
export function quietRuntime() {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}

export function testEnvFile(): { temporalBinary: string; bundlePath: string } {
  try {
    return JSON.parse(readFileSync(join(PROJECT_ROOT, '.cache', 'test', 'env.json'), 'utf8'));
  } catch {
    throw new Error('run the tests with `npm test` (its setup step builds the Temporal CLI and bundles the workflows)');
  }
}

export function workflowBundle() {
  return { codePath: testEnvFile().bundlePath };
}

export async function startTestServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: testEnvFile().temporalBinary },
      ip: '127.0.0.1',
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
}

export async function tempDir(prefix = 'rewrite-rl-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** The CPU worker (workflows and CPU activities) on the main task queue, as a user would add it. */
export async function cpuWorker(
  env: TestWorkflowEnvironment,
  artifactRoot: string,
  taskQueue = TASK_QUEUE,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    plugins: [new RewriteRlPlugin({ activities: 'cpu', artifactRoot, workflowBundle: workflowBundle() })],
  });
}

/** A device-pinned worker for the cpu device, as `rewrite-rl worker --device cpu` runs it. */
export async function deviceWorker(env: TestWorkflowEnvironment, artifactRoot: string): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: deviceTaskQueue('cpu'),
    maxConcurrentActivityTaskExecutions: 1,
    plugins: [new RewriteRlPlugin({ activities: 'device', device: 'cpu', artifactRoot })],
  });
}

/**
 * A dev server and the workers of a test file, started before its tests and stopped after them.
 * Read `env` and `root` (the artifact store) inside tests.
 */
export function useTemporal(o: { device?: boolean } = {}): { env: TestWorkflowEnvironment; root: string } {
  const ctx = {} as { env: TestWorkflowEnvironment; root: string };
  let workers: Worker[] = [];
  let running: Promise<unknown> = Promise.resolve();
  before(async () => {
    ctx.env = await startTestServer();
    ctx.root = await tempDir();
    workers = [await cpuWorker(ctx.env, ctx.root), ...(o.device ? [await deviceWorker(ctx.env, ctx.root)] : [])];
    running = Promise.all(workers.map((w) => w.run()));
  });
  after(async () => {
    for (const w of workers) w.shutdown();
    await running;
    await ctx.env?.teardown();
  });
  return ctx;
}
