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
   * A model's identity, by content and not by place: its manifest's hash when it has one, else the hash
   * of its config and weights (and the adapter's). The same weights under another URI are the same model.
   */
  async modelKey(store: ArtifactStore, ref: ModelRef): Promise<string> {
    const parts: string[] = [ref.adapter ? 'base+adapter' : 'model'];
    for (const uri of [ref.uri, ref.adapter].filter((u): u is string => !!u)) {
      const dir = store.resolve(uri);
      const manifest = join(dir, 'manifest.json');
      if (existsSync(manifest)) parts.push(await this.fileHash(manifest));
      else
        for (const f of [
          'config.json',
          'model.safetensors',
          'model.safetensors.index.json',
          'adapter_model.safetensors',
        ])
          if (existsSync(join(dir, f))) parts.push(await this.fileHash(join(dir, f)));
    }
    return sha256(parts.join('\n')).slice(0, 16);
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

export async function readJsonl<T>(path: string, label: string): Promise<T[]> {
  const lines = (await readFile(path, 'utf8')).replace(/^\uFEFF/, '').split(/\r?\n/);
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (e) {
      throw new InputError(`${label}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}
