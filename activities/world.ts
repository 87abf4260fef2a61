// prepareWorld: writes the embedded default world for a recipe (benchmarks, downstream training sets,
// the pretraining corpus and the untrained backbone) into world/<recipe>-<hash>/, once; later calls
// return it as is. Another data seed adds another sample of the downstream training sets beside it
// (world/<recipe>-<hash>-data<seed>/), also written once; so are the RL rewriter's validation slice
// (world/<recipe>-<hash>-validation/) and the later oracle mixtures of each sample (...-mixtures-90-95/).
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { schemas, type PrepareWorldInputInput, type WorldOutput } from '../schemas';
import { writeInitialBackbone } from '../world/backbone';
import {
  LEGACY_DATA_SEEDS,
  VALIDATION_SIZE,
  writePretrainCorpus,
  writeMixtureSets,
  writeTrainSets,
  writeValidationSet,
  writeWorldData,
} from '../world/materialize';
import { LATER_MIXTURES, RECIPES, type WorldRecipe } from '../world/recipe';
import { makeWorld } from '../world/world';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from './artifact-store';
import { findShippedBackbone } from '../world/shipped';
import type { Progress } from './datasets/import-dataset';
import { writeManifest } from './manifest';

/** Bump when the world's generators change what they write, so cached worlds are not reused wrongly. */
export const WORLD_DATA_VERSION = 13;

export function resolveRecipe(input: { recipe: string; seed?: number }): WorldRecipe {
  const base = RECIPES[input.recipe];
  return input.seed === undefined ? base : { ...base, seed: input.seed };
}

export async function prepareWorld(
  store: ArtifactStore,
  given: PrepareWorldInputInput,
  progress: Progress,
): Promise<WorldOutput> {
  const input = schemas.prepareWorldInput.parse(given);
  const recipe = resolveRecipe(input);
  // the SFT settings do not shape the world or the backbone: changing them must not retrain it
  const { sft: _sft, ...shaping } = recipe;
  const key = sha256(canonicalJson({ version: WORLD_DATA_VERSION, recipe: shaping })).slice(0, 12);
  const ref = `world/${recipe.name}-${key}`;
  const path = store.resolve(ref);
  const result = join(path, 'world.json');
  // the recipe given now, not the stored one: they differ at most in the SFT settings
  const asStored = async () => ({
    ...(JSON.parse(await readFile(result, 'utf8')) as WorldOutput),
    recipe,
  });
  const reused = existsSync(result);
  if (!reused) await writeWorld(store, recipe, ref, progress);
  // the shipped backbone was trained with the recipe's own pretraining settings: overrides retrain it
  const retrain = input.retrain || input.pretrain !== undefined;
  const pretrained = retrain ? undefined : await installShippedBackbone(store, recipe.name, recipe.seed, key);
  const validation = await validationSetOf(store, recipe, `${ref}-validation`);
  const world = { ...(await asStored()), reused, validation, ...(pretrained ? { pretrained } : {}) };
  const sample = input.dataSeed === 0 ? ref : `${ref}-data${input.dataSeed}`;
  const train = input.dataSeed === 0 ? world.train : await trainSetsOfDataSeed(store, recipe, sample, input.dataSeed);
  return { ...world, train: { ...train, ...(await laterMixturesOf(store, recipe, sample, input.dataSeed)) } };
}

/** Another sample of the downstream training sets, beside the world: its own folder, written once. */
function trainSetsOfDataSeed(
  store: ArtifactStore,
  recipe: WorldRecipe,
  ref: string,
  dataSeed: number,
): Promise<Record<string, string>> {
  return trainSetsOnce(store, ref, {
    kind: 'world-train-sets',
    config: { recipe, version: WORLD_DATA_VERSION, dataSeed },
    seeds: { world: recipe.seed, data: dataSeed },
    write: (tmp, refOf) =>
      writeTrainSets(
        tmp,
        makeWorld(recipe.seed),
        { dataSeed, downstreamTrainSize: recipe.downstreamTrainSize, mixtures: recipe.mixtures },
        refOf,
      ),
  });
}

/**
 * The LATER_MIXTURES the recipe does not hold, of data seed `dataSeed`'s sample, in their own folder
 * beside it (named by the shares, written once), so the world's files and key stay as they were.
 */
async function laterMixturesOf(
  store: ArtifactStore,
  recipe: WorldRecipe,
  sample: string,
  dataSeed: number,
): Promise<Record<string, string>> {
  const shares = LATER_MIXTURES.filter((s) => !recipe.mixtures.includes(s));
  if (shares.length === 0) return {};
  return trainSetsOnce(store, `${sample}-mixtures-${shares.map((s) => Math.round(s * 100)).join('-')}`, {
    kind: 'world-mixtures',
    config: { recipe, version: WORLD_DATA_VERSION, dataSeed, shares },
    seeds: { world: recipe.seed, data: dataSeed },
    write: (tmp, refOf) =>
      writeMixtureSets(
        tmp,
        makeWorld(recipe.seed),
        { dataSeed, downstreamTrainSize: recipe.downstreamTrainSize, mixtures: shares },
        refOf,
      ),
  });
}

/** Training sets in folder `ref` with their train.json (arm → file) and manifest, written once. */
async function trainSetsOnce(
  store: ArtifactStore,
  ref: string,
  o: {
    kind: string;
    config: Record<string, unknown>;
    seeds: Record<string, number>;
    write: (tmp: string, refOf: (rel: string) => string) => Promise<Record<string, string>>;
  },
): Promise<Record<string, string>> {
  const path = store.resolve(ref);
  const result = join(path, 'train.json');
  if (!existsSync(result))
    await store.writeDir(ref, async (tmp) => {
      const train = await o.write(tmp, (rel) => `${store.ref(path)}/${rel}`);
      await writeFile(join(tmp, 'train.json'), JSON.stringify(train, null, 2) + '\n');
      await writeManifest(tmp, { kind: o.kind, config: o.config, seeds: o.seeds, inputs: [], files: ['train.json'] });
    });
  return JSON.parse(await readFile(result, 'utf8')) as Record<string, string>;
}

/**
 * The RL rewriter's validation slice (world/materialize.ts), beside the world in its own folder, written
 * once: the world's files and its key stay as they were.
 */
async function validationSetOf(store: ArtifactStore, recipe: WorldRecipe, ref: string): Promise<string> {
  const path = store.resolve(ref);
  if (!existsSync(path))
    await store.writeDir(ref, async (tmp) => {
      const records = await writeValidationSet(
        join(tmp, 'validation.jsonl'),
        makeWorld(recipe.seed),
        recipe.downstreamTrainSize,
      );
      await writeManifest(tmp, {
        kind: 'world-validation',
        config: {
          recipe,
          version: WORLD_DATA_VERSION,
          size: VALIDATION_SIZE,
          legacyDataSeeds: LEGACY_DATA_SEEDS,
          records,
        },
        seeds: { world: recipe.seed },
        inputs: [],
        files: ['validation.jsonl'],
      });
    });
  return `${store.ref(path)}/validation.jsonl`;
}

async function writeWorld(store: ArtifactStore, recipe: WorldRecipe, ref: string, progress: Progress): Promise<void> {
  const path = store.resolve(ref);
  await store.writeDir(ref, async (tmp) => {
    const refOf = (rel: string) => `${store.ref(path)}/${rel}`;
    progress.heartbeat({ stage: 'data' });
    const data = await writeWorldData(
      tmp,
      {
        seed: recipe.seed,
        benchmarkSize: recipe.benchmarkSize,
        downstreamTrainSize: recipe.downstreamTrainSize,
        mixtures: recipe.mixtures,
      },
      refOf,
    );
    progress.heartbeat({ stage: 'pretraining corpus' });
    const families = await writePretrainCorpus(join(tmp, 'pretrain.jsonl'), recipe.seed, recipe.pretrainExamples);
    progress.heartbeat({ stage: 'backbone' });
    await writeInitialBackbone(join(tmp, 'initial-model'), recipe.backbone, recipe.seed);
    const out: WorldOutput = {
      uri: store.ref(path),
      recipe,
      benchmarks: data.benchmarks.map((b) => schemas.benchmarkSpec.parse(b)),
      train: data.train,
      pretrainData: refOf('pretrain.jsonl'),
      initialModel: { uri: refOf('initial-model') },
      reused: false,
    };
    await writeFile(join(tmp, 'world.json'), JSON.stringify(out, null, 2) + '\n');
    await writeManifest(tmp, {
      kind: 'world',
      config: { recipe, version: WORLD_DATA_VERSION, pretrainFamilies: families },
      seeds: { world: recipe.seed },
      inputs: [],
      files: ['world.json', 'pretrain.jsonl', 'benchmarks.json'],
    });
  });
}

/**
 * The backbone the repository ships for this recipe and seed (world/shipped/), copied into the store
 * once and checked against its sha256s, when it was trained on this very world (same data key); else
 * undefined, and the world's backbone is pretrained as usual.
 */
export async function installShippedBackbone(
  store: ArtifactStore,
  recipe: string,
  seed: number,
  worldKey: string,
  shippedDir?: string,
): Promise<WorldOutput['pretrained']> {
  const shipped = findShippedBackbone(recipe, seed, shippedDir);
  if (!shipped || shipped.manifest.worldKey !== worldKey) return undefined;
  const m = shipped.manifest;
  const ref = `models/backbone-${recipe}-shipped-${m.files['model.safetensors'].slice(0, 16)}`;
  await store.writeDir(ref, async (tmp) => {
    for (const [file, sha] of Object.entries(m.files)) {
      await copyFile(join(shipped.dir, file), join(tmp, file));
      const got = await sha256File(join(tmp, file));
      if (got !== sha) throw new Error(`${join(shipped.dir, file)}: sha256 ${got}, shipped.json says ${sha}`);
    }
    await copyFile(join(shipped.dir, 'shipped.json'), join(tmp, 'shipped.json'));
  });
  const uri = store.ref(store.resolve(ref));
  return {
    model: { uri },
    pretraining: { uri, model: { uri }, ...m.pretraining, log: `${uri}/log.jsonl`, reused: true },
  };
}
