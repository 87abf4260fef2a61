// The plugin: one line in a user's own Worker or Client brings the project's workflows and activities.
//
//   const worker = await Worker.create({ connection, taskQueue: 'rewrite-rl', plugins: [new RewriteRlPlugin()] });
//
// A device worker takes `activities: 'device'` and its device's task queue (see workers/device.ts).
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, createCpuActivities, createDeviceActivities, DeviceSession } from '../activities';
import { settingsFromEnv } from './settings';

/** The workflows' entry for the bundler: the TypeScript source in a checkout, compiled JavaScript in the package. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

export interface RewriteRlPluginOptions {
  /** Which activities this worker serves: 'cpu' (with the workflows), 'device', or 'none' (a client). */
  activities?: 'cpu' | 'device' | 'none';
  /** The artifact store's root; default from REWRITE_RL_ARTIFACTS or ./.rewrite-rl/artifacts. */
  artifactRoot?: string;
  /** For device activities: 'cpu' or 'cuda:N'. */
  device?: string;
  /** For device activities: onnxruntime intra-op threads (default from REWRITE_RL_THREADS, else all cores). */
  threads?: number;
  /** A prebuilt workflow bundle (tests bundle once per run); by default the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
}

export class RewriteRlPlugin extends SimplePlugin {
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
  }

  /** Heartbeats reach the server at least every 2 s, so a cancellation reaches a running activity quickly. */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    configured.maxHeartbeatThrottleInterval ??= '2 seconds';
    configured.defaultHeartbeatThrottleInterval ??= '2 seconds';
    return configured;
  }
}
