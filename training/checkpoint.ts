// Trainer state in a work folder: the train program's runner state (parameters, AdamW moments, step
// counter), the data position and the per-step log. Saved atomically, so a crash leaves the previous
// checkpoint; the log is written first and trimmed on load to the checkpoint's step, so a crash in
// between leaves nothing inconsistent. Any loop that trains in several activities (SFT runs, GRPO
// updates) restores and saves through these two functions.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainProgram } from '../engine/programs/train';
import type { DataPosition } from '../engine/rng';
import { loadTrainerState, saveTrainerState } from '../engine/trainer-state';

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  gradNorm?: number;
  /** Further per-step figures (e.g. a GRPO step's clip fraction and KL). */
  [metric: string]: number | undefined;
}

export interface Checkpoint {
  /** Optimizer steps done. */
  step: number;
  dataPosition: DataPosition;
  /** The log of steps 0..step-1. */
  log: StepLog[];
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const LOG_FILE = 'log.jsonl';

/** Restores the program's state from `workDir` and returns where it stood; undefined when there is no checkpoint. */
export async function loadCheckpoint(workDir: string, program: TrainProgram): Promise<Checkpoint | undefined> {
  const ckpt = join(workDir, CHECKPOINT_FILE);
  if (!existsSync(ckpt)) return undefined;
  const state = await loadTrainerState(ckpt);
  await program.restoreState(state.tensors);
  const step = Number(state.meta?.step ?? 0);
  let log: StepLog[] = [];
  if (existsSync(join(workDir, LOG_FILE))) {
    log = (await readFile(join(workDir, LOG_FILE), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StepLog)
      .filter((l) => l.step < step);
  }
  return { step, dataPosition: state.dataPosition, log };
}

/** Writes the log, then the program's state, each atomically. */
export async function saveCheckpoint(workDir: string, program: TrainProgram, c: Checkpoint): Promise<void> {
  // log first, then the checkpoint: a crash in between leaves a log the next start trims
  await writeAtomic(join(workDir, LOG_FILE), c.log.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const ckpt = join(workDir, CHECKPOINT_FILE);
  const tmp = `${ckpt}.tmp`;
  await saveTrainerState(tmp, {
    tensors: await program.stateTensors(),
    dataPosition: c.dataPosition,
    rng: [], // the loops draw nothing random besides the data order
    meta: { step: String(c.step) },
  });
  await rename(tmp, ckpt);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}
