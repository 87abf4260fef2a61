// What a running workflow is doing inside its stages: the last heartbeat of every pending activity
// in it and in its running children (pretraining's steps, a dataset's records, a benchmark's items),
// read with DescribeWorkflowExecution. A stage of the pipeline can run for many minutes; this is the
// step of total the stage list alone cannot show.
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';

export interface RunningActivity {
  /** The workflow the activity runs in, relative to the one described (`''` for itself, `pretrain`). */
  workflow: string;
  activity: string;
  /** The activity's last heartbeat details (undefined before its first heartbeat). */
  details?: unknown;
  attempt: number;
  /** Started on a worker (else scheduled and waiting in its task queue, as device work waits its turn). */
  started: boolean;
}

/** Children are followed this deep (the pipeline's children have children of their own: sft runs). */
const MAX_DEPTH = 2;

export async function runningActivities(handle: WorkflowHandle, depth = 0, prefix = ''): Promise<RunningActivity[]> {
  const { raw } = await handle.describe();
  const out: RunningActivity[] = (raw.pendingActivities ?? []).map((a) => {
    const payload = a.heartbeatDetails?.payloads?.[0];
    return {
      workflow: prefix,
      activity: a.activityType?.name ?? '?',
      details: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
      attempt: a.attempt ?? 1,
      started: a.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    };
  });
  if (depth >= MAX_DEPTH) return out;
  const parentId = handle.workflowId;
  const children = (raw.pendingChildren ?? []).flatMap((c) => (c.workflowId ? [c.workflowId] : []));
  const inner = await Promise.all(
    children.map((id) => {
      const name = id.startsWith(`${parentId}/`) ? id.slice(parentId.length + 1) : id;
      // a child that ends between the two calls has nothing running
      return runningActivities(handle.client.getHandle(id), depth + 1, prefix ? `${prefix}/${name}` : name).catch(
        () => [],
      );
    }),
  );
  return [...out, ...inner.flat()];
}

const LABELS = ['stage', 'phase', 'benchmark', 'what'] as const;
const COUNTS = ['done', 'generated', 'scored', 'records'] as const;

/**
 * One activity's progress as a short phrase: `pretrain sft step 812/2000 (loss 1.930)`,
 * `rewriter rolloutGroup rollout step 3 12/16`, `evaluate-base evaluateBenchmark general-arith 120/500`.
 * Heartbeats differ by activity: labels (stage, phase, benchmark, what), a GRPO or optimizer `step`, a
 * count (done, generated, scored, records) and `of`, the total of the innermost count.
 */
export function describeActivity(a: RunningActivity): string {
  const d = (a.details && typeof a.details === 'object' ? a.details : {}) as Record<string, unknown>;
  const parts = [a.workflow, a.activity].filter(Boolean);
  // 'start' marks a heartbeat before any work; a label that repeats the activity's name adds nothing
  for (const k of LABELS)
    if (typeof d[k] === 'string' && d[k] !== 'start' && d[k] !== a.activity) parts.push(d[k] as string);
  const of = typeof d.of === 'number' ? `/${d.of}` : '';
  const count = COUNTS.find((k) => typeof d[k] === 'number');
  if (typeof d.step === 'number') parts.push(`step ${d.step}${count ? '' : of}`);
  if (count) parts.push(`${count === 'done' ? '' : `${count} `}${d[count] as number}${of}`);
  if (typeof d.loss === 'number') parts.push(`(loss ${d.loss.toFixed(3)})`);
  if (a.attempt > 1) parts.push(`[attempt ${a.attempt}]`);
  return parts.join(' ');
}
