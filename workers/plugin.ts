// The plugin: one line in a user's own Worker or Client brings the project's workflows and activities.
//
//   const worker = await Worker.create({ connection, taskQueue: 'rewrite-rl', plugins: [new RewriteRlPlugin()] });
//
// A device worker takes `activities: 'device'` and its device's task queue (see workers/device.ts).
import { SimplePlugin } from '@temporalio/plugin';
import { Runtime, type Worker, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, createCpuActivities, createDeviceActivities, DeviceSession } from '../activities';
import { deviceTaskQueue } from '../workflows/task-queues';
import { checkArtifactRoot, identityWithRoot } from './artifact-root';
import { ensureSearchAttributes } from './search-attributes';
import { settingsFromEnv, TASK_QUEUE } from './settings';

/** The workflows' entry for the bundler: the TypeScript source in a checkout, compiled JavaScript in the package. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

export interface RewriteRlPluginOptions {
  /** Which activities this worker serves: 'cpu' (with the workflows), 'device', or 'none' (a client). */
  activities?: 'cpu' | 'device' | 'none';
  /**
   * The artifact store's root, which every worker and the client that stages files must share; default
   * REWRITE_RL_ARTIFACTS, else ./.rewrite-rl/artifacts. Resolved once, here, against the current folder.
   */
  artifactRoot?: string;
  /**
   * At the start of a worker that runs the workflows: 'register' (default) adds the project's search
   * attributes the namespace lacks, 'check' only fails at once naming the command that adds them, 'off'
   * skips the check.
   */
  searchAttributes?: 'register' | 'check' | 'off';
  /** For device activities: 'cpu' or 'cuda:N'. */
  device?: string;
  /** For device activities: onnxruntime intra-op threads (default from REWRITE_RL_THREADS, else all cores). */
  threads?: number;
  /** For device activities: onnxruntime's spin-waiting threads (default from REWRITE_RL_SPINNING, else on). */
  spinning?: boolean;
  /** A prebuilt workflow bundle (tests bundle once per run); by default the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
}

/**
 * Lets go of a worker refused before it starts (run() then fails with the refusal). A worker that polled
 * even once would leave its identity, and so its artifact root, in the server's poller list for minutes,
 * refusing the right workers in turn. So Core is asked to shut the worker down first (through the
 * Worker's internals; where they are not as expected, the worker is stopped right after its start), and
 * the run that follows only drains it: its polls end at once with Core's shutdown, sending nothing.
 */
async function discard(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
  const native = (worker as unknown as { nativeWorker?: { initiateShutdown?: () => void } }).nativeWorker;
  const early = typeof native?.initiateShutdown === 'function';
  if (early) native!.initiateShutdown!();
  const stopped = next(worker);
  if (!early) worker.shutdown();
  await stopped.catch(() => undefined);
}

/**
 * A device worker's onnxruntime threads spin-wait between kernels unless told otherwise: the worker is
 * the machine's compute, and its event loop keeps time at nice 10 either way (test/engine/runner.test.ts:
 * worst timer lateness 2-7 ms with and without spinning, also beside two busy processes). Measured on 2
 * cores: the world's packed train step 7-11% faster and its whole pretraining 11% faster (seed 0, 11 min
 * 55 s against 13 min 16 s, the same backbone bit for bit); beside two busy processes the step was 6%
 * slower, so a shared machine sets REWRITE_RL_SPINNING=0.
 */
const DEVICE_SPINNING = true;

export class RewriteRlPlugin extends SimplePlugin {
  /** The artifact store's absolute root. */
  readonly artifactRoot: string;
  readonly #kind: 'cpu' | 'device' | 'none';
  readonly #searchAttributes: 'register' | 'check' | 'off';

  constructor(opts: RewriteRlPluginOptions = {}) {
    const kind = opts.activities ?? 'cpu';
    const env = settingsFromEnv();
    const store = new ArtifactStore(opts.artifactRoot ?? env.artifactRoot);
    // a device worker keeps one runner and its loaded programs for its lifetime
    const session =
      kind === 'device'
        ? new DeviceSession(
            opts.device ?? 'cpu',
            opts.threads ?? env.threads,
            undefined,
            opts.spinning ?? env.spinning ?? DEVICE_SPINNING,
          )
        : undefined;
    const activities =
      kind === 'cpu'
        ? createCpuActivities({ store })
        : session
          ? createDeviceActivities({ store, device: session.device, session })
          : undefined;
    const withWorkflows = kind === 'cpu';
    super({
      name: 'rewrite-rl',
      activities,
      ...(session
        ? {
            runContext: async (next: () => Promise<void>) => {
              try {
                await next();
              } finally {
                await session.close();
              }
            },
          }
        : {}),
      ...(withWorkflows && opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : {}),
      ...(withWorkflows && !opts.workflowBundle ? { workflowsPath: WORKFLOWS_PATH } : {}),
    });
    this.artifactRoot = store.root;
    this.#kind = kind;
    this.#searchAttributes = opts.searchAttributes ?? 'register';
  }

  /** Before polling: the search attributes the workflows set, and one log line with the artifact root. */
  override async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    const { namespace, taskQueue } = worker.options;
    const logger = Runtime.instance().logger;
    const connection = worker.connection;
    const before = async <T>(check: () => Promise<T>): Promise<T> => {
      try {
        return await check();
      } catch (e) {
        await discard(worker, next);
        throw e;
      }
    };
    if (this.#kind === 'cpu' && this.#searchAttributes !== 'off' && connection) {
      const added = await before(() =>
        ensureSearchAttributes(connection, namespace, { register: this.#searchAttributes === 'register' }),
      );
      if (added.length > 0)
        logger.info(`rewrite-rl: registered the search attributes ${added.join(', ')}`, { namespace });
    }
    // the workflows' queue and the default device's: the workers a workflow's activities are shared between
    if (this.#kind !== 'none' && connection)
      await before(() =>
        checkArtifactRoot(connection, namespace, [taskQueue, TASK_QUEUE, deviceTaskQueue('cpu')], this.artifactRoot),
      );
    logger.info(`rewrite-rl: ${this.#kind} worker on task queue ${taskQueue}, artifact root ${this.artifactRoot}`, {
      namespace,
    });
    return super.runWorker(worker, next);
  }

  /** Heartbeats reach the server at least every 2 s, so a cancellation reaches a running activity quickly. */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    // read by checkArtifactRoot in the other workers of the namespace
    if (this.#kind !== 'none') configured.identity = identityWithRoot(configured.identity, this.artifactRoot);
    configured.maxHeartbeatThrottleInterval ??= '2 seconds';
    configured.defaultHeartbeatThrottleInterval ??= '2 seconds';
    return configured;
  }
}
