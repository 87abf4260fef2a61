// `rewrite-rl pipeline` (and `demo`, what `npm start` runs) follows a running pipeline through its
// `progress` query: on a terminal a live bar (stages done of total, what runs inside them, ETA);
// otherwise a plain line each time a stage starts or ends, and every half minute one line of what runs
// inside the stages (the running activities' last heartbeats: a training step of total, records done).
import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { PipelineOutput } from '../workflows/pipeline';
import type { PipelineProgress } from '../workflows/pipeline-progress';
import { describeActivity, runningActivities } from './running-work';

const eta = (s: number | undefined) =>
  s === undefined ? '—' : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;

/** The lines a non-terminal log gets for a change from `before` to `now`. */
export function progressLines(before: PipelineProgress | undefined, now: PipelineProgress): string[] {
  const was = new Map(before?.stages.map((s) => [s.name, s.state]));
  return now.stages
    .filter((s) => s.state !== 'pending' && was.get(s.name) !== s.state)
    .map(
      (s) =>
        `[${now.done}/${now.total}] ${s.name} ${s.state}` +
        (s.state === 'done' && s.ms !== undefined ? ` in ${(s.ms / 1000).toFixed(1)} s` : '') +
        ` (ETA ${eta(now.etaSeconds)})`,
    );
}

/** What runs inside the stages: a phrase per started activity, and how many wait for a worker. */
export async function workInside(handle: WorkflowHandle): Promise<string[]> {
  const all = await runningActivities(handle);
  const started = all.filter((a) => a.started).map(describeActivity);
  const waiting = all.length - started.length;
  return [...started, ...(waiting ? [`${waiting} queued`] : [])];
}

/** Follows a running pipeline until it ends; returns its result (or throws its failure). */
export async function followPipeline(
  handle: WorkflowHandle,
  err: (line: string) => void,
  everyMs = 1000,
  detailEveryMs = 30_000,
): Promise<PipelineOutput> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          format: 'pipeline {bar} {value}/{total} stages | {running} | ETA {etaText} | {inside}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const result = handle.result() as Promise<PipelineOutput>;
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  let last: PipelineProgress | undefined;
  let inside = '';
  let insideAt = 0;
  const show = async () => {
    const p = await handle.query<PipelineProgress>('progress').catch(() => undefined);
    if (!p) return;
    const running = p.stages.filter((s) => s.state === 'running').map((s) => s.name);
    // a describe per running workflow: every few seconds on a terminal, every detailEveryMs in a log
    const now = Date.now();
    const refresh = !done && now - insideAt >= (bar ? Math.min(5000, detailEveryMs) : detailEveryMs);
    if (refresh) {
      inside = await workInside(handle).then(
        (phrases) => phrases.join('; '),
        () => inside,
      );
      insideAt = now;
    }
    const fields = { running: running.slice(0, 3).join(', ') || p.stage, etaText: eta(p.etaSeconds), inside };
    if (bar) {
      if (!last) bar.start(p.total, p.done, fields);
      else bar.update(p.done, fields);
    } else {
      progressLines(last, p).forEach((l) => err(l));
      if (refresh && last && inside) err(`  inside: ${inside}`);
    }
    last = p;
  };
  while (!done) {
    await show();
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, everyMs))]);
  }
  // the last stages can end between two polls: the closed run's own final state shows every end
  await show();
  bar?.stop();
  return result;
}
