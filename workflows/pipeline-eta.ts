// The pipeline's ETA from its stages so far. Stages run side by side but share one device that runs
// one activity at a time, so a stage's time from start to end holds its wait behind the others.
// What a stage cost is rather the time from the later of its start and the previous stage's end to
// its own end (exact when the device ran stage after stage, and for a stage that ran alone); the ETA
// is the remaining stages' costs so estimated (by kind: data, score, sft, evaluate, ...), less the time
// the device has already spent on the next one since the last stage ended.
import type { PipelineProgress } from '../schemas/workflow';

type StageState = PipelineProgress['stages'][number];

const kindOf = (name: string) => name.split(':')[0];

/** Each finished stage's cost: its end less the later of its start and the previous stage's end. */
function costs(stages: StageState[]): { kind: string; ms: number; end: number }[] {
  const done = stages
    .filter((s) => s.state === 'done' && s.startedAt !== undefined && s.ms !== undefined)
    .map((s) => ({ kind: kindOf(s.name), start: s.startedAt!, end: s.startedAt! + s.ms! }))
    .sort((a, b) => a.end - b.end);
  let previous = -Infinity;
  return done.map((s) => {
    const ms = s.end - Math.max(s.start, previous);
    previous = s.end;
    return { kind: s.kind, ms, end: s.end };
  });
}

/** Milliseconds until every stage is finished, or undefined before any stage has finished. */
export function etaMs(stages: StageState[], now: number): number | undefined {
  const done = costs(stages);
  if (!done.length) return undefined;
  const mean = (xs: { ms: number }[]) => xs.reduce((t, x) => t + x.ms, 0) / xs.length;
  const overall = mean(done);
  let remaining = 0;
  for (const s of stages) {
    if (s.state !== 'pending' && s.state !== 'running') continue;
    const same = done.filter((d) => d.kind === kindOf(s.name));
    remaining += same.length ? mean(same) : overall;
  }
  const lastEnd = done[done.length - 1].end;
  const inProgress = stages.some((s) => s.state === 'running') ? Math.max(0, now - lastEnd) : 0;
  return Math.max(0, remaining - inProgress);
}
