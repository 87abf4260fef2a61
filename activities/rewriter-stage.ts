// Where a trainRewriter run keeps its stages. Each is an ordinary content-addressed stage
// (activities/stage.ts: keyed by what it is a function of, written atomically with a manifest, an
// existing output returned as is), placed under its step's folder so a user finds a step's rollouts,
// verdicts, rewards and adapter by the step number: `<run>/steps/000012/rollouts-<key>/rollouts.jsonl`.
import { join } from 'node:path';
import { writeJsonl } from '../engine/line-writer';
import { stage, type StageContext, type StageSpec } from './stage';
import type { ArtifactStore } from './artifact-store';
import { dataInput, readJsonl } from './records';

/** `<run>/steps/000012`: the folder of one GRPO step's stages. */
export const stepDir = (run: string, step: number) => `${run}/steps/${String(step).padStart(6, '0')}`;

export interface StepStageSpec extends Omit<StageSpec, 'dir' | 'name'> {
  run: string;
  step: number;
  /** The stage's name in the step folder ('rollouts', 'gate', ...). */
  name: string;
}

/**
 * Runs the stage `name` of a step once, writing its rows to `<name>.jsonl`-style `file` through
 * `write`. The result is the stored summary with `uri` naming that file (what the next stage reads).
 */
export async function stepStage<S extends object>(
  store: ArtifactStore,
  spec: StepStageSpec,
  file: string,
  body: (write: (rows: unknown[]) => Promise<void>, ctx: StageContext) => Promise<S>,
): Promise<S & { uri: string; reused: boolean }> {
  const { run, step, name, ...rest } = spec;
  const r = await stage(store, { ...rest, dir: stepDir(run, step), name }, (ctx) =>
    body((rows) => writeJsonl(join(ctx.tmp, file), rows), ctx),
  );
  return { ...r, uri: `${r.uri}/${file}` };
}

/** A JSONL file of the store (an earlier stage's output) with its content hash, for a stage's key. */
export async function stageRows<T>(store: ArtifactStore, uri: string, what: string) {
  const input = await dataInput(store, uri, what);
  return { input, read: () => readJsonl<T>(input.path, uri) };
}
