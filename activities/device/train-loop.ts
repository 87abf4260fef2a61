// A resumable training loop around a compiled train program: several optimizer steps per run,
// a checkpoint (parameters, AdamW moments, data position) every N steps written atomically to the
// work folder, and a per-step log. Started again after a crash, it continues from the last
// checkpoint and ends with exactly the parameters of an uninterrupted run.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorData } from '../../engine/graph';
import type { Example, TrainProgram } from '../../engine/programs/train';
import { LengthGroupedBatches } from './batches';
import { loadTrainerState, saveTrainerState } from '../../engine/trainer-state';
import type { Progress } from '../datasets/import-dataset';

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
  totalSteps: number;
  stepsPerRun: number;
  checkpointEvery: number;
  seed: number;
  lrAt(step: number): number;
  /** Parameters of a fresh start (ignored when resuming). */
  initialParams(): Record<string, TensorData>;
  progress: Progress;
}

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  gradNorm?: number;
}

export interface TrainLoopResult {
  steps: number;
  log: StepLog[];
  resumedFrom: number;
}

const CHECKPOINT = 'checkpoint.safetensors';
const LOG = 'log.jsonl';

export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const order = new LengthGroupedBatches(o.lengths, o.batchSize, o.seed, o.lengthGroupBatches, o.lengthBuckets);
  const ckpt = join(o.workDir, CHECKPOINT);
  let step = 0;
  let log: StepLog[] = [];
  if (existsSync(ckpt)) {
    const state = await loadTrainerState(ckpt);
    await o.program.restoreState(state.tensors);
    order.position = state.dataPosition;
    step = Number(state.meta?.step ?? 0);
    if (existsSync(join(o.workDir, LOG))) {
      log = (await readFile(join(o.workDir, LOG), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StepLog)
        .filter((l) => l.step < step);
    }
  } else {
    await o.program.init(o.initialParams());
  }
  const resumedFrom = step;
  while (step < o.totalSteps) {
    o.progress.checkCancelled();
    const nextCheckpoint = (Math.floor(step / o.checkpointEvery) + 1) * o.checkpointEvery;
    const k = Math.min(o.stepsPerRun, o.totalSteps - step, nextCheckpoint - step);
    const batches = Array.from({ length: k }, () => order.next().map((i) => o.example(i)));
    const lrs = Array.from({ length: k }, (_, j) => o.lrAt(step + j));
    const r = await o.program.step(batches, lrs);
    r.losses.forEach((loss, j) => log.push({ step: step + j, loss, lr: lrs[j], gradNorm: r.gradNorms?.[j] }));
    step += k;
    o.progress.heartbeat({ step, of: o.totalSteps, loss: r.losses[r.losses.length - 1] });
    if (step % o.checkpointEvery === 0 || step === o.totalSteps) {
      // log first, then the checkpoint: a crash in between leaves a log the next start trims
      await writeAtomic(join(o.workDir, LOG), log.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const tmp = `${ckpt}.tmp`;
      await saveTrainerState(tmp, {
        tensors: await o.program.stateTensors(),
        dataPosition: order.position,
        rng: [], // the loop draws nothing random besides the data order
        meta: { step: String(step) },
      });
      await rename(tmp, ckpt);
    }
  }
  return { steps: step, log, resumedFrom };
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}
