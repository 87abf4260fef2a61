// A resumable training loop around a compiled train program: several optimizer steps per run,
// a checkpoint (parameters, AdamW moments, data position) every N steps written atomically to the
// work folder, and a per-step log. Started again after a crash, it continues from the last
// checkpoint and ends with exactly the parameters of an uninterrupted run. Plain functions: the
// caller (an activity, a benchmark, a test) passes callbacks for progress and cancellation.
import type { TensorData } from '../engine/graph';
import type { Example, TrainProgram } from '../engine/programs/train';
import { LengthGroupedBatches } from './batches';
import { loadCheckpoint, saveCheckpoint, type StepLog } from './checkpoint';

export type { StepLog } from './checkpoint';

export interface TrainProgress {
  /** Optimizer steps done. */
  step: number;
  of: number;
  /** Loss of the last step. */
  loss: number;
}

export interface TrainLoopOptions {
  program: TrainProgram;
  workDir: string;
  /** Token length of each example (batches group similar lengths). */
  lengths: number[];
  example(index: number): Example;
  batchSize: number;
  /** Batches per length group (1 = random batches). */
  lengthGroupBatches?: number;
  /** Ascending upper bounds of length buckets; a batch holds examples of one bucket. */
  lengthBuckets?: number[];
  /**
   * Micro-batches per optimizer step (a program compiled with `accumulate`): each batch is cut into
   * this many parts whose gradients are averaged. Omitted: one batch per step.
   */
  microBatches?: number;
  totalSteps: number;
  stepsPerRun: number;
  checkpointEvery: number;
  seed: number;
  lrAt(step: number): number;
  /** Parameters of a fresh start (ignored when resuming). */
  initialParams(): Record<string, TensorData>;
  /** Called after every run of steps. */
  onProgress?(p: TrainProgress): void;
  /** Called before every run of steps; throw to stop (the last checkpoint stays for a resume). */
  checkCancelled?(): void;
}

export interface TrainLoopResult {
  steps: number;
  log: StepLog[];
  resumedFrom: number;
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const order = new LengthGroupedBatches(o.lengths, o.batchSize, o.seed, o.lengthGroupBatches, o.lengthBuckets);
  const resumed = await loadCheckpoint(o.workDir, o.program);
  let step = 0;
  let log: StepLog[] = [];
  if (resumed) {
    order.position = resumed.dataPosition;
    step = resumed.step;
    log = resumed.log;
  } else {
    await o.program.init(o.initialParams());
  }
  const resumedFrom = step;
  while (step < o.totalSteps) {
    o.checkCancelled?.();
    const nextCheckpoint = (Math.floor(step / o.checkpointEvery) + 1) * o.checkpointEvery;
    const k = Math.min(o.stepsPerRun, o.totalSteps - step, nextCheckpoint - step);
    const batches = Array.from({ length: k }, () => order.next().map((i) => o.example(i)));
    const lrs = Array.from({ length: k }, (_, j) => o.lrAt(step + j));
    const r = await o.program.step(
      o.microBatches === undefined ? batches : batches.map((b) => microBatches(b, o.microBatches!)),
      lrs,
    );
    r.losses.forEach((loss, j) => log.push({ step: step + j, loss, lr: lrs[j], gradNorm: r.gradNorms?.[j] }));
    step += k;
    o.onProgress?.({ step, of: o.totalSteps, loss: r.losses[r.losses.length - 1] });
    if (step % o.checkpointEvery === 0 || step === o.totalSteps)
      await saveCheckpoint(o.workDir, o.program, { step, dataPosition: order.position, log });
  }
  return { steps: step, log, resumedFrom };
}

/**
 * Cuts a batch into `count` micro-batches of near-equal size (they differ by at most one example),
 * in order: every optimizer step of a run then has the same number of micro-batches, as an
 * accumulating train program requires, even when the last batch of an epoch is short.
 */
export function microBatches<T>(batch: T[], count: number): T[][] {
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`microBatches: count must be >= 1, got ${count}`);
  if (batch.length < count)
    throw new Error(`microBatches: a batch of ${batch.length} cannot be cut into ${count} micro-batches`);
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const size = Math.floor(batch.length / count) + (i < batch.length % count ? 1 : 0);
    out.push(batch.slice(at, at + size));
    at += size;
  }
  return out;
}
