// Writes the world's fixed datasets into a folder: the benchmarks (each prior family's test split and
// the downstream test split) with their specs, and the downstream training set in the foreign style,
// in the own style (the oracle arm) and as oracle mixtures for the dose-response curve.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchmarkSpecInput } from '../schemas';
import { LineWriter, writeJsonl } from '../engine/line-writer';
import { QA_TEMPLATE } from '../method/prompts';
import { FOREIGN, OWN, render } from './styles';
import type { Problem } from './trace';
import { distinct, makeWorld, pretrainItemAt, type World } from './world';

export interface WorldDataOptions {
  seed: number;
  /** Which sample of the downstream train split the training sets hold (0: the world's own). */
  dataSeed?: number;
  /** Items per benchmark (each general benchmark and the downstream test split). */
  benchmarkSize: number;
  downstreamTrainSize: number;
  /** Oracle shares of the mixtures for the dose-response curve. */
  mixtures: number[];
}

export const DEFAULT_WORLD_DATA: WorldDataOptions = {
  seed: 0,
  benchmarkSize: 500,
  downstreamTrainSize: 2000,
  mixtures: [0.25, 0.5, 0.75],
};

export interface WorldData {
  benchmarks: BenchmarkSpecInput[];
  /** Training files (relative to the folder) by arm name: foreign, oracle, oracle-25, ... */
  train: Record<string, string>;
}

/** The seed of the downstream training sample: data seed 0 is the one every world was built with. */
export function trainSampleSeed(seed: number, dataSeed = 0): number {
  return seed * 1000 + 999 + dataSeed * 1_000_003;
}

/** Whether record `id` takes the oracle solution in a mixture with this oracle share (seeded per id). */
export function takesOracle(id: string, share: number, seed: number): boolean {
  return createHash('sha256').update(`mix\0${seed}\0${id}`).digest().readUInt32BE(0) / 2 ** 32 < share;
}

/** Writes everything under `dir` (which the caller makes atomic) and returns what it wrote, by relative path. */
export async function writeWorldData(
  dir: string,
  o: WorldDataOptions,
  refOf: (rel: string) => string,
): Promise<WorldData> {
  const world = makeWorld(o.seed);
  await mkdir(join(dir, 'benchmarks'), { recursive: true });
  const benchmarks: BenchmarkSpecInput[] = [];
  const families = [...world.prior, world.downstream];
  for (const [k, family] of families.entries()) {
    const items = distinct(family, 'test', o.benchmarkSize, o.seed * 1000 + k + 1);
    const rel = `benchmarks/${family.name}.jsonl`;
    await writeJsonl(
      join(dir, rel),
      items.map((p) => ({ id: p.id, question: p.question, answer: p.trace.answer })),
    );
    benchmarks.push({
      name: family.name,
      data: refOf(rel),
      role: family.role === 'downstream' ? 'downstream' : 'general',
      promptFormat: QA_TEMPLATE,
      extractor: { kind: 'boxed' },
      maxNewTokens: 160,
    });
  }
  await writeFile(join(dir, 'benchmarks.json'), JSON.stringify(benchmarks, null, 2) + '\n');
  return { benchmarks, train: await writeTrainSets(dir, world, o, refOf) };
}

/** Writes training sets of one sample under `dir`/downstream; returns each file's reference by arm name. */
export type TrainSetsWriter = (
  dir: string,
  world: World,
  o: Pick<WorldDataOptions, 'dataSeed' | 'downstreamTrainSize' | 'mixtures'>,
  refOf: (rel: string) => string,
) => Promise<Record<string, string>>;

/**
 * The downstream training sets under `dir`/downstream: one sample of the train split, in the foreign
 * style (vanilla SFT), the own style (the oracle) and the oracle mixtures, by arm name.
 */
export const writeTrainSets: TrainSetsWriter = (dir, world, o, refOf) => writeSets(dir, world, o, refOf, true);

/**
 * Only the oracle mixtures of the sample writeTrainSets writes for these options (the same records in
 * the same order; a record takes the oracle solution in every mixture whose share is at least its
 * draw, so the mixtures nest): for shares added to a world after it was written, without touching it.
 */
export const writeMixtureSets: TrainSetsWriter = (dir, world, o, refOf) => writeSets(dir, world, o, refOf, false);

async function writeSets(
  dir: string,
  world: World,
  o: Parameters<TrainSetsWriter>[2],
  refOf: (rel: string) => string,
  styles: boolean,
): Promise<Record<string, string>> {
  await mkdir(join(dir, 'downstream'), { recursive: true });
  const train = trainSample(world, o);
  const files: Record<string, string> = {};
  if (styles) {
    files.foreign = 'downstream/train-foreign.jsonl';
    files.oracle = 'downstream/train-oracle.jsonl';
    await writeJsonl(
      join(dir, files.foreign),
      train.map((p) => trainRecord(p, false)),
    );
    await writeJsonl(
      join(dir, files.oracle),
      train.map((p) => trainRecord(p, true)),
    );
  }
  Object.assign(files, await writeMixtures(dir, world, train, o.mixtures));
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, refOf(v)]));
}

/** The sample of the downstream train split a data seed's training sets hold. */
function trainSample(world: World, o: Pick<WorldDataOptions, 'dataSeed' | 'downstreamTrainSize'>): Problem[] {
  return distinct(
    world.downstream,
    'train',
    o.downstreamTrainSize,
    trainSampleSeed(world.seed, o.dataSeed),
    avoided(world, o),
  );
}

const trainRecord = (p: Problem, oracle: boolean) => ({
  id: p.id,
  question: p.question,
  answer: render(p.trace, oracle ? OWN : FOREIGN),
});

/** The mixture of each oracle share as downstream/train-oracle-<percent>.jsonl; relative paths by arm name. */
async function writeMixtures(
  dir: string,
  world: World,
  train: Problem[],
  shares: number[],
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const share of shares) {
    const name = `oracle-${Math.round(share * 100)}`;
    files[name] = `downstream/train-${name}.jsonl`;
    await writeJsonl(
      join(dir, files[name]),
      train.map((p) => trainRecord(p, takesOracle(p.id, share, world.seed))),
    );
  }
  return files;
}

/** The pretraining corpus: `n` records of the prior stream, as {id, question, answer} JSONL. */
export async function writePretrainCorpus(path: string, seed: number, n: number): Promise<Record<string, number>> {
  const world = makeWorld(seed);
  const w = new LineWriter(path);
  const families: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const item = pretrainItemAt(world, seed, i);
    families[item.family] = (families[item.family] ?? 0) + 1;
    await w.write(JSON.stringify({ id: `p${i}`, question: item.question, answer: item.answer }));
  }
  await w.close();
  return families;
}

/** Problems in the RL rewriter's validation slice. */
export const VALIDATION_SIZE = 200;
/** Data seeds whose training samples were drawn before the validation slice existed. */
export const LEGACY_DATA_SEEDS = 8;

/**
 * The validation slice: VALIDATION_SIZE problems of the downstream train split that no data seed's
 * training sample holds, so no SFT sample and no RL prompt (both drawn from those samples) and, being
 * of the train split, no test record. Disjoint by construction without changing a written file: the
 * slice skips every problem of the samples of data seeds below LEGACY_DATA_SEEDS, and the samples of
 * every later data seed skip the slice's problems.
 */
export function validationSlice(world: World, downstreamTrainSize: number): Problem[] {
  const taken = new Set<string>();
  for (let d = 0; d < LEGACY_DATA_SEEDS; d++)
    for (const p of distinct(world.downstream, 'train', downstreamTrainSize, trainSampleSeed(world.seed, d)))
      taken.add(p.question);
  return distinct(world.downstream, 'train', VALIDATION_SIZE, world.seed * 1000 + 998, taken);
}

/** What a data seed's sample must skip: nothing for the samples drawn before the slice, else the slice. */
function avoided(world: World, o: { dataSeed?: number; downstreamTrainSize: number }): Set<string> | undefined {
  if ((o.dataSeed ?? 0) < LEGACY_DATA_SEEDS) return undefined;
  return new Set(validationSlice(world, o.downstreamTrainSize).map((p) => p.question));
}

/** The validation slice as JSONL: {id, question, answer: y* in the foreign style, oracle: the own style}. */
export async function writeValidationSet(path: string, world: World, downstreamTrainSize: number): Promise<number> {
  const slice = validationSlice(world, downstreamTrainSize);
  await writeJsonl(
    path,
    slice.map((p) => ({
      id: p.id,
      question: p.question,
      answer: render(p.trace, FOREIGN),
      oracle: render(p.trace, OWN),
    })),
  );
  return slice.length;
}
