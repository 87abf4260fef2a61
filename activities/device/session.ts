// What a device-pinned worker keeps between activities: one onnxruntime runner for its device and the
// models and programs loaded on it, so follow-up activities on the same worker skip the loading.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Runner } from '../../engine/runner';
import { loadHFModel, type HFModel } from '../../engine/model';
import { loadPeftAdapter, loraModules, mergeLora, type LoraConfig, type LoraWeights } from '../../engine/lora';
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

/**
 * A base model served with a LoRA adapter that is not merged into its weights: the generate and score
 * programs are compiled once per (base, LoRA config) and read the adapter from the runner's state
 * (`param.<module>.lora_A|B`, the names a LoRA train program keeps its parameters under), so a new
 * adapter is a state update, not a compile, and a train program on the same runner updates what they
 * read. `{ adapter: false }` in generate or score options switches it off (the frozen reference).
 */
export interface Policy {
  /** The base model, unmerged. */
  loaded: LoadedModel;
  lora: LoraConfig;
  generator: GenerateProgram;
  scorer: ScoreProgram;
  /** A LoRA train program of this config on the same runner (cached like `DeviceSession.trainer`). */
  trainer(o: Omit<TrainProgramOptions, 'lora'>): Promise<TrainProgram>;
  /**
   * The key of the adapter in the runner's state now: undefined when none was set on this runner (a
   * fresh worker), or when a LoRA train program has changed the state since.
   */
  adapterKey(): string | undefined;
  /** Puts adapter tensors (engine names, as `initLoraWeights` and `TrainProgram.params` give) into the state. */
  setAdapter(weights: LoraWeights, key: string): Promise<void>;
  /**
   * Makes the PEFT adapter stored at `ref` the current one: nothing to do when it already is (same
   * content key), else it is read and set. Throws an InputError if its config is not this policy's.
   */
  useAdapter(store: ArtifactStore, ref: string): Promise<{ key: string; loaded: boolean }>;
  /** Records that the state holds the adapter `key` (e.g. a train program's parameters, just saved under it). */
  markAdapter(key: string): void;
}

export class DeviceSession {
  private runnerInstance?: Runner;
  private readonly models = new Map<string, LoadedModel>();
  private readonly generators = new Map<string, GenerateProgram>();
  private readonly trainers = new Map<string, TrainProgram>();
  private readonly scorers = new Map<string, ScoreProgram>();
  private readonly policies = new Map<string, Omit<Policy, 'loaded'>>();
  /** The content key of the LoRA adapter in the runner's state (the state is the runner's, not a program's). */
  private runnerAdapter?: string;

  constructor(
    readonly device: string,
    readonly threads?: number,
    /** Loaded models and programs kept; older ones are dropped first. */
    readonly capacity = 2,
    /** onnxruntime's spin-waiting threads (RunnerOptions.spinning; undefined: the runner's default). */
    readonly spinning?: boolean,
  ) {}

  runner(): Runner {
    this.runnerInstance ??= new Runner({ device: this.device, intraOpThreads: this.threads, spinning: this.spinning });
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

  /** A PEFT adapter folder's identity by content (its config without the base's path, and its weights). */
  async adapterKey(store: ArtifactStore, ref: string): Promise<string> {
    const dir = store.resolve(ref);
    if (!existsSync(join(dir, 'adapter_config.json')))
      throw new InputError(`${ref}: not a PEFT adapter folder (no adapter_config.json)`);
    return sha256(['adapter', ...(await this.contentHashes(dir, ADAPTER_FILES))].join('\n')).slice(0, 16);
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
    // a RegExp of target modules would hash as {}: the modules it selects stand for it
    const lora = o.lora && { ...o.lora, targetModules: loraModules(loaded.model.config, o.lora).map((m) => m.module) };
    const key = sha256(`${loaded.key}\n${canonicalJson({ ...o, lora })}`).slice(0, 16);
    let program = this.trainers.get(key);
    if (!program) {
      program = await TrainProgram.create(this.runner(), loaded.model, { ...o, name: `train-${key}` });
      if (o.lora) this.tracksAdapter(program);
      const evicted = this.remember(this.trainers, key, program);
      for (const p of evicted) await this.runner().unload(p.name);
    }
    return { loaded, program };
  }

  /** A LoRA train program writes the adapter state: once it does, the state is no longer the adapter set before. */
  private tracksAdapter(program: TrainProgram): void {
    for (const m of ['init', 'restoreState', 'step'] as const) {
      const f = program[m].bind(program) as (...a: unknown[]) => Promise<unknown>;
      (program as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        this.runnerAdapter = undefined;
        return f(...a);
      };
    }
  }

  /**
   * The base model `base` (no adapter) with an unmerged LoRA adapter of config `lora`: generate, score
   * and train programs on one runner sharing the adapter state. Compiled once per base and config;
   * later calls return the same programs. Merged serving of a finished adapter stays
   * `generator(store, { uri, adapter })`.
   */
  async policy(store: ArtifactStore, base: ModelRef, lora: LoraConfig): Promise<Policy> {
    if (base.adapter)
      throw new InputError('policy: the base model must have no adapter (the adapter is served unmerged)');
    const loaded = await this.model(store, base);
    const shape = { ...lora, targetModules: loraModules(loaded.model.config, lora).map((m) => m.module) };
    const key = sha256(`${loaded.key}\n${canonicalJson(shape)}`).slice(0, 16);
    let policy = this.policies.get(key);
    if (!policy) {
      const generator = await GenerateProgram.create(this.runner(), loaded.model, { lora, name: `generate-${key}` });
      const scorer = await ScoreProgram.create(this.runner(), loaded.model, { lora, name: `score-${key}` });
      const sameShape = (c: LoraConfig) =>
        c.rank === lora.rank &&
        c.alpha === lora.alpha &&
        !!c.useRslora === !!lora.useRslora &&
        canonicalJson(loraModules(loaded.model.config, c).map((m) => m.module)) === canonicalJson(shape.targetModules);
      policy = {
        lora,
        generator,
        scorer,
        trainer: async (o) => (await this.trainer(store, base, { ...o, lora })).program,
        adapterKey: () => this.runnerAdapter,
        setAdapter: async (weights, adapterKey) => {
          this.runnerAdapter = undefined;
          await generator.setAdapter(weights);
          this.runnerAdapter = adapterKey;
        },
        useAdapter: async (s, ref) => {
          const adapterKey = await this.adapterKey(s, ref);
          if (this.runnerAdapter === adapterKey) return { key: adapterKey, loaded: false };
          const adapter = await loadPeftAdapter(s.resolve(ref), loaded.model.config);
          if (!sameShape(adapter.config))
            throw new InputError(
              `${ref}: the adapter (rank ${adapter.config.rank}, alpha ${adapter.config.alpha}) is not of this policy's LoRA config (rank ${lora.rank}, alpha ${lora.alpha})`,
            );
          await policy!.setAdapter(adapter.weights, adapterKey);
          return { key: adapterKey, loaded: true };
        },
        markAdapter: (adapterKey) => {
          this.runnerAdapter = adapterKey;
        },
      };
      const evicted = this.remember(this.policies, key, policy);
      for (const p of evicted) {
        await this.runner().unload(p.generator.name);
        await this.runner().unload(p.scorer.name);
      }
    }
    return { loaded, ...policy };
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
