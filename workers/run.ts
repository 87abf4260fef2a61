// Worker processes: the CPU worker (workflows and CPU activities on the main task queue) and a
// device-pinned worker per device (device activities, one at a time, on the device's task queue).
// Device compute runs off the worker's event loop (engine/ runs onnxruntime in a worker thread), so
// heartbeats, polling and cancellation keep flowing during a long program.
import { type NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { connectWorker } from './connection';
import { TASK_QUEUE, type Settings } from './settings';
import { assertDeviceUsable, deviceName, deviceTaskQueue, parseDevice } from './device';
import { RewriteRlPlugin } from './plugin';

export interface WorkerSetOptions {
  /** Run the CPU worker (workflows and CPU activities). */
  cpu: boolean;
  /** Run a device-pinned worker for this device ('cpu' or 'cuda:N'). */
  device?: string;
  workflowBundle?: WorkflowBundleOption;
  connection?: NativeConnection;
}

export async function createWorkers(
  s: Settings,
  o: WorkerSetOptions,
): Promise<{ workers: Worker[]; close: () => Promise<void> }> {
  const owned = !o.connection;
  const connection = o.connection ?? (await connectWorker(s));
  const workers: Worker[] = [];
  if (o.cpu) {
    workers.push(
      await Worker.create({
        connection,
        namespace: s.namespace,
        taskQueue: TASK_QUEUE,
        plugins: [
          new RewriteRlPlugin({ activities: 'cpu', artifactRoot: s.artifactRoot, workflowBundle: o.workflowBundle }),
        ],
      }),
    );
  }
  if (o.device) {
    const device = parseDevice(o.device);
    assertDeviceUsable(device);
    workers.push(
      await Worker.create({
        connection,
        namespace: s.namespace,
        taskQueue: deviceTaskQueue(device),
        maxConcurrentActivityTaskExecutions: 1,
        plugins: [
          new RewriteRlPlugin({ activities: 'device', device: deviceName(device), artifactRoot: s.artifactRoot }),
        ],
      }),
    );
  }
  if (workers.length === 0) throw new Error('nothing to run: ask for the CPU worker, a device worker, or both');
  return { workers, close: async () => (owned ? connection.close() : undefined) };
}

/** Runs the workers until SIGINT or SIGTERM, then shuts them down cleanly (running activities get cancelled). */
export async function runWorkersUntilSignal(s: Settings, o: WorkerSetOptions, log: (l: string) => void): Promise<void> {
  const { workers, close } = await createWorkers(s, o);
  const stop = () => {
    log('shutting down workers...');
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log(`workers running: ${workers.map((w) => w.options.taskQueue).join(', ')} (Ctrl-C to stop)`);
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await close();
  }
}
