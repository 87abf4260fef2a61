// The pipeline's stages as the `progress` query and the UI's stage search attribute see them: every
// stage is planned when the run starts (so "done of total" is known from the first query), and each
// one records when it ran. Workflow time only, so the bookkeeping is deterministic.
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { PipelineProgress } from '../schemas/workflow';
import { STAGE } from './search-attributes';

export type { PipelineProgress };
export type StageState = PipelineProgress['stages'][number];
export type StageStatus = StageState['state'];

const kindOf = (name: string) => name.split(':')[0];

export class Stages {
  private readonly list: StageState[] = [];
  private current = 'start';

  plan(name: string): void {
    if (!this.list.some((s) => s.name === name)) this.list.push({ name, state: 'pending' });
  }

  /** Runs `body` as stage `name` (planned if it was not). */
  async run<T>(name: string, body: () => Promise<T>): Promise<T> {
    this.plan(name);
    const s = this.list.find((x) => x.name === name)!;
    s.state = 'running';
    s.startedAt = Date.now();
    this.current = name;
    upsertSearchAttributes([{ key: STAGE, value: name }]);
    try {
      const out = await body();
      s.state = 'done';
      return out;
    } catch (err) {
      s.state = 'failed';
      throw err;
    } finally {
      s.ms = Date.now() - s.startedAt;
    }
  }

  /** Marks planned stage `name` as skipped: it will not run, and it counts as finished. */
  skip(name: string): void {
    this.plan(name);
    this.list.find((x) => x.name === name)!.state = 'skipped';
  }

  finish(): void {
    this.current = 'done';
    upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
  }

  progress(): PipelineProgress {
    const done = this.list.filter((s) => s.state === 'done');
    const finished = done.length + this.list.filter((s) => s.state === 'skipped').length;
    const mean = (xs: StageState[]) => (xs.length ? xs.reduce((t, s) => t + (s.ms ?? 0), 0) / xs.length : undefined);
    const overall = mean(done);
    let eta = 0;
    let known = overall !== undefined;
    for (const s of this.list) {
      if (s.state === 'done' || s.state === 'failed' || s.state === 'skipped') continue;
      const est = mean(done.filter((d) => kindOf(d.name) === kindOf(s.name))) ?? overall;
      if (est === undefined) known = false;
      else eta += s.state === 'running' ? Math.max(0, est - (Date.now() - (s.startedAt ?? Date.now()))) : est;
    }
    return {
      stage: this.current,
      done: finished,
      total: this.list.length,
      stages: this.list.map((s) => ({ ...s })),
      ...(known ? { etaSeconds: Math.round(eta / 1000) } : {}),
    };
  }
}
