// The pipeline's stages as the `progress` query and the UI's stage search attribute see them: every
// stage is planned when the run starts (so "done of total" is known from the first query), and each
// one records when it ran. Workflow time only, so the bookkeeping is deterministic.
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { PipelineProgress } from '../schemas/workflow';
import { etaMs } from './pipeline-eta';
import { STAGE } from './search-attributes';

export type { PipelineProgress };
export type StageState = PipelineProgress['stages'][number];
export type StageStatus = StageState['state'];

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
    const finished = this.list.filter((s) => s.state === 'done' || s.state === 'skipped').length;
    const eta = etaMs(this.list, Date.now());
    return {
      stage: this.current,
      done: finished,
      total: this.list.length,
      stages: this.list.map((s) => ({ ...s })),
      ...(eta !== undefined ? { etaSeconds: Math.round(eta / 1000) } : {}),
    };
  }
}
