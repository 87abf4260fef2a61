// What a device-pinned worker keeps between activities: one onnxruntime runner for its device and the
// models and programs loaded on it, so follow-up activities on the same worker skip the loading.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Runner } from '../../engine/runner';
import { loadHFModel, type HFModel } from '../../engine/model';
import { loadPeftAdapter, mergeLora } from '../../engine/lora';
import { GenerateProgram, ScoreProgram, TrainProgram, type TrainProgramOptions } from '../../engine/programs';
import type { ModelRef } from '../../schemas';
import type { ArtifactStore } from '../artifact-store';
import { sha256, sha256File, canonicalJson } from '../artifact-store';
import { InputError } from '../errors';

/** The files of a model folder that decide what it computes, in the order they are hashed. */
const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'model.safetensors',
  'model.safetensors.index.json',
] as const;
const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors'] as const;

export interface LoadedModel {
  key: string;
  model: HFModel;
}

export class DeviceSession {
  private runnerInstance?: Runner;
  private readonly models = new Map<string, LoadedModel>();
  private readonly generators = new Map<string, GenerateProgram>();
  private readonly trainers = new Map<string, TrainProgram>();
  private readonly scorers = new Map<string, ScoreProgram>();

  constructor(
    readonly device: string,
    readonly threads?: number,
    /** Loaded models and programs kept; older ones are dropped first. */
    readonly capacity = 2,
  ) {}

  runner(): Runner {
    this.runnerInstance ??= new Runner({ device: this.device, intraOpThreads: this.threads });
    return this.runnerInstance;
  }

  /**
   * A model's identity, by content and not by place: the hashes of the files that decide what it
   * computes (config, weights, tokenizer, generation config; the adapter's config and weights),
   * never its manifest, which carries a timestamp and a commit. The same model under another URI,
   * or written again, has the same key.
   */
  async modelKey(store: ArtifactStore, ref: ModelRef): Promise<string> {
    const parts: string[] = [ref.adapter ? 'base+adapter' : 'model'];
    parts.push(...(await this.contentHashes(store.resolve(ref.uri), MODEL_FILES)));
    if (ref.adapter) parts.push(...(await this.contentHashes(store.resolve(ref.adapter), ADAPTER_FILES)));
    return sha256(parts.join('\n')).slice(0, 16);
  }

  /** `name:sha256` of each of `files` present in `dir`, and of the weight shards an index names. */
  private async contentHashes(dir: string, files: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const f of files) {
      const path = join(dir, f);
      if (!existsSync(path)) continue;
      if (f === 'adapter_config.json') {
        // where the base model was is not what the adapter computes
        const { base_model_name_or_path: _base, ...config } = JSON.parse(await readFile(path, 'utf8')) as Record<
          string,
          unknown
        >;
        out.push(`${f}:${sha256(canonicalJson(config))}`);
        continue;
      }
      out.push(`${f}:${await this.fileHash(path)}`);
      if (f === 'model.safetensors.index.json') {
        const index = JSON.parse(await readFile(path, 'utf8')) as { weight_map?: Record<string, string> };
        for (const shard of [...new Set(Object.values(index.weight_map ?? {}))].sort())
          out.push(`${shard}:${await this.fileHash(join(dir, shard))}`);
      }
    }
    return out;
  }

  private readonly hashes = new Map<string, { stamp: string; hash: string }>();

  /** sha256 of a file, remembered while its size and modification time stay the same (weights are large). */
  private async fileHash(path: string): Promise<string> {
    const st = await stat(path);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const known = this.hashes.get(path);
    if (known?.stamp === stamp) return known.hash;
    const hash = await sha256File(path);
    this.hashes.set(path, { stamp, hash });
    return hash;
  }

  async model(store: ArtifactStore, ref: ModelRef): Promise<LoadedModel> {
    const key = await this.modelKey(store, ref);
    const cached = this.models.get(key);
    if (cached) return cached;
    const dir = store.resolve(ref.uri);
    if (!existsSync(join(dir, 'config.json'))) throw new InputError(`${ref.uri}: not a model folder (no config.json)`);
    let model = await loadHFModel(dir);
    if (!model.tokenizer) throw new InputError(`${ref.uri}: the model folder has no tokenizer.json`);
    if (ref.adapter) {
      const adapter = await loadPeftAdapter(store.resolve(ref.adapter), model.config);
      model = { ...model, weights: mergeLora(model.config, model.weights, adapter.config, adapter.weights) };
    }
    const loaded = { key, model };
    this.remember(this.models, key, loaded);
    return loaded;
  }

  async generator(store: ArtifactStore, ref: ModelRef): Promise<{ loaded: LoadedModel; program: GenerateProgram }> {
    const loaded = await this.model(store, ref);
    let program = this.generators.get(loaded.key);
    if (!program) {
      program = await GenerateProgram.create(this.runner(), loaded.model, { name: `generate-${loaded.key}` });
      const evicted = this.remember(this.generators, loaded.key, program);
      for (const p of evicted) await this.runner().unload(p.name);
    }
    return { loaded, program };
  }

  async scorer(store: ArtifactStore, ref: ModelRef): Promise<{ loaded: LoadedModel; program: ScoreProgram }> {
    const loaded = await this.model(store, ref);
    let program = this.scorers.get(loaded.key);
    if (!program) {
      program = await ScoreProgram.create(this.runner(), loaded.model, { name: `score-${loaded.key}` });
      const evicted = this.remember(this.scorers, loaded.key, program);
      for (const p of evicted) await this.runner().unload(p.name);
    }
    return { loaded, program };
  }

  async trainer(
    store: ArtifactStore,
    ref: ModelRef,
    o: TrainProgramOptions,
  ): Promise<{ loaded: LoadedModel; program: TrainProgram }> {
    const loaded = await this.model(store, ref);
    const key = sha256(`${loaded.key}\n${canonicalJson(o)}`).slice(0, 16);
    let program = this.trainers.get(key);
    if (!program) {
      program = await TrainProgram.create(this.runner(), loaded.model, { ...o, name: `train-${key}` });
      const evicted = this.remember(this.trainers, key, program);
      for (const p of evicted) await this.runner().unload(p.name);
    }
    return { loaded, program };
  }

  private remember<T>(map: Map<string, T>, key: string, value: T): T[] {
    map.set(key, value);
    const evicted: T[] = [];
    while (map.size > this.capacity) {
      const oldest = map.keys().next().value as string;
      evicted.push(map.get(oldest)!);
      map.delete(oldest);
    }
    return evicted;
  }

  async close(): Promise<void> {
    await this.runnerInstance?.close();
    this.runnerInstance = undefined;
  }
}
