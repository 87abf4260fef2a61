// The stages a workflow is built from: activity proxies with named option profiles, and child
// workflows with ids derived from their parent's. A new workflow picks a profile here instead of
// restating timeouts, so every long device stage notices a dead worker the same way.
import {
  ActivityCancellationType,
  executeChild,
  proxyActivities,
  type ActivityOptions,
  type ChildWorkflowOptions,
  type WithWorkflowArgs,
  type Workflow,
  type WorkflowResultType,
} from '@temporalio/workflow';
import type { CpuActivities, DeviceActivities } from '../activities';
import type { EvaluateInputInput, PrepareWorldInput, SftInputInput } from '../schemas/workflow';
import type { evaluate } from './evaluate';
import type { pretrain } from './pretrain';
import type { sft } from './sft';
import { deviceTaskQueue } from './task-queues';

/**
 * How long a device activity may run and how soon a silent one is retried.
 * - `training`: days of steps that checkpoint; device activities heartbeat every few seconds even
 *   inside one long program, so 30 s without one means the worker died and the retry resumes from
 *   the last checkpoint.
 * - `batch`: one pass over a dataset or benchmark (scoring, rewriting, evaluating); content-addressed,
 *   so a retry returns what is already written.
 */
export const DEVICE_PROFILES = {
  training: {
    startToCloseTimeout: '7 days',
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 10, initialInterval: '1 second' },
  },
  batch: {
    startToCloseTimeout: '1 day',
    heartbeatTimeout: '5 minutes',
    retry: { maximumAttempts: 5, initialInterval: '2 seconds' },
  },
} satisfies Record<string, ActivityOptions>;

/**
 * CPU activities run on the main task queue beside the workflows.
 * - `import`: reads and writes files for minutes to hours; a cancelled workflow waits for it to stop
 *   and remove its temporary files.
 * - `world`: builds the embedded default's data and untrained model (minutes, heartbeats per stage).
 * - `report`: a small computation over results already stored.
 */
export const CPU_PROFILES = {
  import: {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 5, initialInterval: '1 second' },
  },
  world: {
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 5 },
  },
  report: {
    startToCloseTimeout: '30 minutes',
    retry: { maximumAttempts: 3 },
  },
} satisfies Record<string, ActivityOptions>;

export type DeviceProfile = keyof typeof DEVICE_PROFILES;
export type CpuProfile = keyof typeof CPU_PROFILES;

/** Device activities on `device`'s task queue ('cpu', 'cuda:N'), with the options of `profile`. */
export function deviceActivities(device: string, profile: DeviceProfile, overrides: Partial<ActivityOptions> = {}) {
  return proxyActivities<DeviceActivities>({
    ...DEVICE_PROFILES[profile],
    ...overrides,
    taskQueue: deviceTaskQueue(device),
  });
}

/** CPU activities on the workflow's own task queue, with the options of `profile`. */
export function cpuActivities(profile: CpuProfile) {
  return proxyActivities<CpuActivities>(CPU_PROFILES[profile]);
}

/**
 * Runs workflow `type` as a child with id `<parentId>/<name>`, so a rerun of the parent finds the
 * same children and the UI shows them under it.
 */
export function child<W extends Workflow>(
  type: string,
  parentId: string,
  name: string,
  input: Parameters<W>[0],
): Promise<WorkflowResultType<W>> {
  const options = { workflowId: `${parentId}/${name}`, args: [input] };
  return executeChild<W>(type, options as unknown as WithWorkflowArgs<W, ChildWorkflowOptions>);
}

/** The world's backbone (prepared and pretrained, cached by content) as a `pretrain` child. */
export function pretrainChild(
  parentId: string,
  o: Pick<PrepareWorldInput, 'recipe' | 'device' | 'seed' | 'pretrain'> & { dataSeed?: number },
) {
  return child<typeof pretrain>('pretrain', parentId, 'pretrain', {
    recipe: o.recipe,
    device: o.device,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.dataSeed ? { dataSeed: o.dataSeed } : {}),
    ...(o.pretrain ? { pretrain: o.pretrain } : {}),
  });
}

/** An `sft` child named `sft-<name>`. */
export function sftChild(parentId: string, name: string, input: SftInputInput) {
  return child<typeof sft>('sft', parentId, `sft-${name}`, input);
}

/** An `evaluate` child named `evaluate-<name>`. */
export function evaluateChild(parentId: string, name: string, input: EvaluateInputInput) {
  return child<typeof evaluate>('evaluate', parentId, `evaluate-${name}`, input);
}
