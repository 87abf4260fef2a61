// Test helpers for real orchestration: a real Temporal dev server (the project's binary, on free ports)
// and real workers with the plugin, using the workflow bundle made once per run by scripts/test-setup.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startDevServer, stopDevServer } from '../../temporal/server';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { PROJECT_ROOT, settingsFromEnv, TASK_QUEUE } from '../../workers/settings';
import { RewriteRlPlugin } from '../../workers/plugin';
import { deviceTaskQueue } from '../../workflows/task-queues';
import { freePort } from './ports';

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
 * A dev server and the workers of a test file, started before its tests and stopped after them;
 * `setup` then runs (data the tests share). Read `env` and `root` (the artifact store) inside tests.
 */
export function useTemporal(
  o: { device?: boolean; setup?: (ctx: { env: TestWorkflowEnvironment; root: string }) => Promise<void> } = {},
): { env: TestWorkflowEnvironment; root: string } {
  const ctx = {} as { env: TestWorkflowEnvironment; root: string };
  let workers: Worker[] = [];
  let running: Promise<unknown> = Promise.resolve();
  before(async () => {
    ctx.env = await startTestServer();
    ctx.root = await tempDir();
    workers = [await cpuWorker(ctx.env, ctx.root), ...(o.device ? [await deviceWorker(ctx.env, ctx.root)] : [])];
    running = Promise.all(workers.map((w) => w.run()));
    // in this hook: node may run a file's own root-level before hooks beside this one
    await o.setup?.(ctx);
  });
  after(async () => {
    for (const w of workers) w.shutdown();
    await running;
    await ctx.env?.teardown();
  });
  return ctx;
}

const processes: ChildProcess[] = [];

/**
 * `rewrite-rl worker --device cpu` as its own process against the server at `address`, so a test can
 * SIGKILL it as a crash would; resolves once it polls. Stop the ones left with `killWorkerProcesses`.
 */
export function deviceWorkerProcess(address: string, artifactRoot: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'rewrite-rl.js'), 'worker', '--device', 'cpu'], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, REWRITE_RL_ARTIFACTS: artifactRoot, REWRITE_RL_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  processes.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('workers running')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`device worker exited with ${code}: ${err}`)));
  });
}

/** SIGKILLs every worker process `deviceWorkerProcess` started that is still running (in a file's `after`). */
export function killWorkerProcesses(): void {
  for (const c of processes) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * A dev server run by the project's own management (temporal/server.ts: a SQLite file in a fresh
 * home, free ports), so a test can stop it and start it again on the same file, as a user's restart
 * would; stopped after the file's tests. `settings` exists after the first `start()`.
 */
export function useDevServer() {
  const ctx = {
    settings: undefined as ReturnType<typeof settingsFromEnv> | undefined,
    async start() {
      quietRuntime();
      ctx.settings ??= settingsFromEnv({
        REWRITE_RL_HOME: await tempDir(),
        REWRITE_RL_SERVER_PORT: String(await freePort()),
        REWRITE_RL_UI_PORT: String(await freePort()),
      });
      return startDevServer(ctx.settings);
    },
    stop: () => stopDevServer(ctx.settings!),
  };
  after(async () => {
    if (ctx.settings) await stopDevServer(ctx.settings);
  });
  return ctx;
}

/** The CPU and device workers of the plugin on the server at `address`; resolves to a function that stops them. */
export async function workersAt(address: string, artifactRoot: string): Promise<() => Promise<void>> {
  const connection = await NativeConnection.connect({ address });
  const common = { connection, namespace: 'default' };
  const ws = [
    await Worker.create({
      ...common,
      taskQueue: TASK_QUEUE,
      plugins: [new RewriteRlPlugin({ activities: 'cpu', artifactRoot, workflowBundle: workflowBundle() })],
    }),
    await Worker.create({
      ...common,
      taskQueue: deviceTaskQueue('cpu'),
      maxConcurrentActivityTaskExecutions: 1,
      plugins: [new RewriteRlPlugin({ activities: 'device', device: 'cpu', artifactRoot })],
    }),
  ];
  const running = Promise.all(ws.map((w) => w.run()));
  return async () => {
    for (const w of ws) w.shutdown();
    await running.catch(() => undefined);
    await connection.close();
  };
}
