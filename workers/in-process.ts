import type { Worker } from '@temporalio/worker';
import type { Settings } from './settings';
import { createWorkers, type WorkerSetOptions } from './run';

/** Runs `fn` with the workers polling in this process; they shut down when it settles. */
export async function withWorkers<T>(s: Settings, o: WorkerSetOptions, fn: () => Promise<T>): Promise<T> {
  const { workers, close } = await createWorkers(s, o);
  const run = (list: Worker[]): Promise<T> => (list.length === 0 ? fn() : list[0].runUntil(() => run(list.slice(1))));
  try {
    return await run(workers);
  } finally {
    await close();
  }
}
