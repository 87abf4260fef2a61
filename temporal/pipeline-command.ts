// `rewrite-rl pipeline` (and `demo`, what `npm start` runs) follows a running pipeline through its
// `progress` query: on a terminal a live bar (stages done of total, the running ones, ETA); otherwise a
// plain line each time a stage starts or ends.
import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { PipelineOutput } from '../workflows/pipeline';
import type { PipelineProgress } from '../workflows/pipeline-progress';

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

/** Follows a running pipeline until it ends; returns its result (or throws its failure). */
export async function followPipeline(
  handle: WorkflowHandle,
  err: (line: string) => void,
  everyMs = 1000,
): Promise<PipelineOutput> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          format: 'pipeline {bar} {value}/{total} stages | {running} | ETA {etaText}',
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
  const show = async () => {
    const p = await handle.query<PipelineProgress>('progress').catch(() => undefined);
    if (!p) return;
    const running = p.stages.filter((s) => s.state === 'running').map((s) => s.name);
    const fields = { running: running.slice(0, 3).join(', ') || p.stage, etaText: eta(p.etaSeconds) };
    if (bar) {
      if (!last) bar.start(p.total, p.done, fields);
      else bar.update(p.done, fields);
    } else progressLines(last, p).forEach((l) => err(l));
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
