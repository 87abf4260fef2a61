// The plugin: one line in a user's own Worker or Client brings the project's workflows and activities.
//
//   const worker = await Worker.create({ connection, taskQueue: 'rewrite-rl', plugins: [new RewriteRlPlugin()] });
//
// A device worker takes `activities: 'device'` and its device's task queue (see workers/device.ts).
import { SimplePlugin } from '@temporalio/plugin';
import { Runtime, type Worker, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, createCpuActivities, createDeviceActivities, DeviceSession } from '../activities';
import { ensureSearchAttributes } from './search-attributes';
import { settingsFromEnv } from './settings';

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
  /** A prebuilt workflow bundle (tests bundle once per run); by default the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
}

export class RewriteRlPlugin extends SimplePlugin {
  /** The artifact store's absolute root. */
  readonly artifactRoot: string;
  readonly #kind: 'cpu' | 'device' | 'none';
  readonly #searchAttributes: 'register' | 'check' | 'off';

  constructor(opts: RewriteRlPluginOptions = {}) {
    const kind = opts.activities ?? 'cpu';
    const store = new ArtifactStore(opts.artifactRoot ?? settingsFromEnv().artifactRoot);
    // a device worker keeps one runner and its loaded programs for its lifetime
    const session =
      kind === 'device'
        ? new DeviceSession(opts.device ?? 'cpu', opts.threads ?? settingsFromEnv().threads)
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
    if (this.#kind === 'cpu' && this.#searchAttributes !== 'off' && worker.connection) {
      let added: string[];
      try {
        added = await ensureSearchAttributes(worker.connection, namespace, {
          register: this.#searchAttributes === 'register',
        });
      } catch (e) {
        // started and stopped at once, so the worker lets go of its connection and run() fails with this error
        const stopped = next(worker);
        worker.shutdown();
        await stopped.catch(() => undefined);
        throw e;
      }
      if (added.length > 0)
        logger.info(`rewrite-rl: registered the search attributes ${added.join(', ')}`, { namespace });
    }
    logger.info(`rewrite-rl: ${this.#kind} worker on task queue ${taskQueue}, artifact root ${this.artifactRoot}`, {
      namespace,
    });
    return super.runWorker(worker, next);
  }

  /** Heartbeats reach the server at least every 2 s, so a cancellation reaches a running activity quickly. */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    configured.maxHeartbeatThrottleInterval ??= '2 seconds';
    configured.defaultHeartbeatThrottleInterval ??= '2 seconds';
    return configured;
  }
}
