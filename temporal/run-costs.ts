// Where a run's time went, read from its history and its children's (recursively): each activity's
// time on its worker (started to closed) and in its task queue (scheduled to started). The device
// worker runs one activity at a time, so a stage's work time is its cost; the live display's "done in"
// also holds the time the stage waited for the device behind the others.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type Event = temporal.api.history.v1.IHistoryEvent;
/** The events of one workflow's history, by its id. */
export type FetchEvents = (workflowId: string) => Promise<Event[]>;

export const fetchFrom =
  (client: Client): FetchEvents =>
  async (id) =>
    (await client.workflow.getHandle(id).fetchHistory()).events ?? [];

/** The work of one stage: a child workflow (by its id under the run), or one activity of the run itself. */
export interface StageCost {
  stage: string;
  activities: number;
  /** Time on a worker, summed over the stage's activities and their attempts. */
  workMs: number;
  /** Time scheduled but not yet picked up. */
  queuedMs: number;
  taskQueues: string[];
}

export interface RunCosts {
  workflowId: string;
  /** The run's wall time (start to close, or to now while it runs). */
  wallMs: number;
  stages: StageCost[];
  /** Work per task queue, summed over every stage. */
  perQueue: Record<string, number>;
}

const msOf = (e: Event) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** The label of an activity of the run itself: its type and the name or arm its input gives. */
function activityLabel(type: string, input: Uint8Array | null | undefined): string {
  try {
    const arg = JSON.parse(Buffer.from(input ?? []).toString('utf8')) as Record<string, unknown>;
    // scoreDataset names only its file: the arm's folder, without its content hash
    const folder =
      typeof arg.dataset === 'string' ? /([^/]+?)(-[0-9a-f]{16})?\/[^/]+$/.exec(arg.dataset)?.[1] : undefined;
    const what = [arg.arm, arg.name, folder].find((x): x is string => typeof x === 'string');
    return what ? `${type} ${what}` : type;
  } catch {
    return type;
  }
}

/** Every activity of one history: its label, queue, work and queue time; and the children it started. */
function readHistory(events: Event[], label: (activityLabel: string) => string) {
  const scheduled = new Map<string, { at: number; label: string; queue: string }>();
  const started = new Map<string, number>();
  const costs: { label: string; queue: string; workMs: number; queuedMs: number }[] = [];
  const children: string[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s)
      scheduled.set(id, {
        at: msOf(e),
        label: label(activityLabel(s.activityType?.name ?? '?', s.input?.payloads?.[0]?.data)),
        queue: s.taskQueue?.name ?? '?',
      });
    if (e.activityTaskStartedEventAttributes) started.set(id, msOf(e));
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const from = scheduled.get(String(closed.scheduledEventId));
      const at = started.get(String(closed.startedEventId));
      // a timed-out attempt that never started has no started event: all of it was queue time
      if (from)
        costs.push({
          label: from.label,
          queue: from.queue,
          workMs: at === undefined ? 0 : msOf(e) - at,
          queuedMs: (at ?? msOf(e)) - from.at,
        });
    }
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
    if (child) children.push(child);
  }
  return { costs, children };
}

export async function runCosts(fetchEvents: FetchEvents, workflowId: string): Promise<RunCosts> {
  const byStage = new Map<string, StageCost>();
  const perQueue: Record<string, number> = {};
  let wallMs = 0;
  // a child's activities count under the child's id below the run (sft-vanilla-s0, rewriter, ...)
  const seen = new Set<string>();
  const walk = async (id: string, stageOf: (label: string) => string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const events = await fetchEvents(id);
    if (id === workflowId && events.length) {
      const last = events[events.length - 1];
      const closed = !!(
        last.workflowExecutionCompletedEventAttributes ??
        last.workflowExecutionFailedEventAttributes ??
        last.workflowExecutionTerminatedEventAttributes ??
        last.workflowExecutionTimedOutEventAttributes ??
        last.workflowExecutionCanceledEventAttributes
      );
      wallMs = (closed ? msOf(last) : Date.now()) - msOf(events[0]);
    }
    const { costs, children } = readHistory(events, stageOf);
    for (const c of costs) {
      const s = byStage.get(c.label) ?? { stage: c.label, activities: 0, workMs: 0, queuedMs: 0, taskQueues: [] };
      s.activities++;
      s.workMs += c.workMs;
      s.queuedMs += c.queuedMs;
      if (!s.taskQueues.includes(c.queue)) s.taskQueues.push(c.queue);
      byStage.set(c.label, s);
      perQueue[c.queue] = (perQueue[c.queue] ?? 0) + c.workMs;
    }
    for (const child of children) {
      const name = child.startsWith(`${workflowId}/`) ? child.slice(workflowId.length + 1) : child;
      await walk(child, id === workflowId ? () => name : stageOf);
    }
  };
  await walk(workflowId, (label) => label);
  return { workflowId, wallMs, stages: [...byStage.values()], perQueue };
}

/** Stages by kind (sft, evaluate, rewriter, rewriteDataset, ...: the first word of the label), costliest first. */
function kinds(stages: StageCost[]): Map<string, { stages: number; workMs: number }> {
  const by = new Map<string, { stages: number; workMs: number }>();
  for (const s of stages) {
    const k = s.stage.split(/[- ]/)[0];
    const v = by.get(k) ?? { stages: 0, workMs: 0 };
    v.stages++;
    v.workMs += s.workMs;
    by.set(k, v);
  }
  return new Map([...by].sort((a, b) => b[1].workMs - a[1].workMs));
}

const minutes = (ms: number) => (ms / 60000).toFixed(1);

/** The costs for a person: every stage, most expensive first, then the totals per task queue. */
export function costsTable(r: RunCosts): string[] {
  const stages = [...r.stages].sort((a, b) => b.workMs - a.workMs);
  return [
    `${r.workflowId}: ${minutes(r.wallMs)} min wall time`,
    '',
    '| stage | activities | on a worker (min) | queued (min) | task queue |',
    '| --- | ---: | ---: | ---: | --- |',
    ...stages.map(
      (s) =>
        `| ${s.stage} | ${s.activities} | ${minutes(s.workMs)} | ${minutes(s.queuedMs)} | ${s.taskQueues.join(', ')} |`,
    ),
    '',
    '| kind of stage | stages | on a worker (min) |',
    '| --- | ---: | ---: |',
    ...[...kinds(r.stages)].map(([k, v]) => `| ${k} | ${v.stages} | ${minutes(v.workMs)} |`),
    '',
    ...Object.entries(r.perQueue).map(([q, ms]) => `work on ${q}: ${minutes(ms)} min`),
  ];
}
