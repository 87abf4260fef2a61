// sft: supervised fine-tuning (full or LoRA) of a model on {id, question, answer} records. The run's
// folders are derived from its input: checkpoints in work/<name>-<key>/, and the result, a Hugging
// Face model folder (full) or a PEFT adapter (lora) with log.jsonl and manifest.json, in
// models/<name>-<key>/, written atomically at the end. A retry resumes from the last checkpoint.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveHFFolder } from '../../engine/hf-folder';
import { initLoraWeights, loraConfig, savePeftAdapter, type LoraWeights } from '../../engine/lora';
import { eosTokenIds } from '../../engine/model';
import type { SftExample } from '../../engine/programs/train';
import { fill } from '../../method/prompts';
import { schemas, type SftInputInput, type SftOutput } from '../../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import { InputError } from '../errors';
import { writeManifest } from '../manifest';
import { learningRateAt } from './schedule';
import { readJsonl, type DeviceSession } from './session';
import { trainLoop } from './train-loop';

export async function sft(
  store: ArtifactStore,
  session: DeviceSession,
  given: SftInputInput,
  progress: Progress,
): Promise<SftOutput> {
  const input = schemas.sftInput.parse(given);
  if (input.mode === 'lora' && input.model.adapter) {
    throw new InputError(
      'model.adapter: LoRA fine-tuning starts from a base model; merge the adapter first or use mode "full"',
    );
  }
  const dataPath = store.resolve(input.dataset);
  if (!existsSync(dataPath)) throw new InputError(`dataset: ${input.dataset} does not exist in the artifact store`);
  const modelKey = await session.modelKey(store, input.model);
  const dataSha = await sha256File(dataPath);
  // identified by content: the same weights and data under other URIs reuse the result
  const { name: _name, device: _device, model: _model, dataset: _dataset, ...recipe } = input;
  const key = sha256(canonicalJson({ modelKey, dataSha, recipe })).slice(0, 16);
  const outRef = `models/${input.name}-${key}`;
  const outPath = store.resolve(outRef);
  if (existsSync(join(outPath, 'result.json'))) {
    return { ...(JSON.parse(await readFile(join(outPath, 'result.json'), 'utf8')) as SftOutput), reused: true };
  }

  const records = await readJsonl<Record<string, unknown>>(dataPath, input.dataset);
  records.forEach((r, i) => {
    for (const f of ['question', 'answer'])
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${input.dataset}:${i + 1}: ${f}: must be a non-empty string`);
  });
  if (records.length === 0) throw new InputError(`${input.dataset}: no records`);
  input.lengthBuckets.forEach((bound, i) => {
    if (i > 0 && bound <= input.lengthBuckets[i - 1])
      throw new InputError(
        `lengthBuckets[${i}]: ${bound} is not above the bound before it (${input.lengthBuckets[i - 1]})`,
      );
  });
  const { loaded, program } = await session.trainer(store, input.model, {
    objective: 'sft',
    lora:
      input.mode === 'lora'
        ? loraConfig({ rank: input.lora.rank, alpha: input.lora.alpha, targetModules: input.lora.targetModules })
        : undefined,
    optimizer: { weightDecay: input.weightDecay, beta2: input.adamBeta2 },
    clipNorm: input.clipNorm,
    lrPerStep: true,
  });
  const { model } = loaded;
  const tokenizer = model.tokenizer!;
  const eos = eosTokenIds(model)[0];
  if (eos === undefined) throw new InputError(`${input.model.uri}: the model names no end-of-sequence token`);
  const examples: SftExample[] = records.map((r, i) => {
    const prompt = tokenizer.encode(fill(input.promptFormat, { question: r.question as string }));
    const target = [...tokenizer.encode(r.answer as string, { addSpecialTokens: false }), eos];
    if (prompt.length + target.length > input.maxLength) {
      throw new InputError(
        `${input.dataset}:${i + 1}: ${prompt.length + target.length} tokens, more than maxLength ${input.maxLength}`,
      );
    }
    return { prompt, target };
  });

  const batchSize = Math.min(input.batchSize, examples.length);
  const totalSteps = Math.max(1, Math.ceil(input.epochs * Math.ceil(examples.length / batchSize)));
  const workDir = store.resolve(`work/${input.name}-${key}`);
  await mkdir(workDir, { recursive: true });
  const lora = program.options.lora;
  const run = await trainLoop({
    program,
    workDir,
    lengths: examples.map((e) => e.prompt.length + e.target.length),
    example: (i) => examples[i],
    batchSize,
    lengthGroupBatches: input.lengthGroupBatches,
    lengthBuckets: input.lengthBuckets,
    totalSteps,
    stepsPerRun: input.stepsPerRun,
    checkpointEvery: input.checkpointEvery,
    seed: input.seed,
    lrAt: (step) => learningRateAt(step, { ...input, totalSteps }),
    initialParams: () => {
      if (!lora) return model.weights;
      // PEFT's initialisation: A random, B zero; seeded so a run is reproducible
      return initLoraWeights(model.config, lora, input.seed);
    },
    progress,
  });

  const params = await program.params();
  const last = run.log.slice(-10);
  await store.writeDir(outRef, async (tmp) => {
    if (lora) await savePeftAdapter(tmp, model.config, lora, params as LoraWeights, { baseModel: input.model.uri });
    else
      await saveHFFolder(tmp, model.config, params, {
        tokenizer,
        generationConfig: model.generationConfig,
        overwrite: true,
      });
    await writeFile(join(tmp, 'log.jsonl'), run.log.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const result: SftOutput = {
      uri: store.ref(outPath),
      model: lora ? { uri: input.model.uri, adapter: store.ref(outPath) } : { uri: store.ref(outPath) },
      steps: run.steps,
      examples: examples.length,
      firstLoss: run.log[0]?.loss ?? NaN,
      finalLoss: last.reduce((s, l) => s + l.loss, 0) / Math.max(1, last.length),
      log: `${store.ref(outPath)}/log.jsonl`,
      reused: false,
    };
    await writeFile(join(tmp, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    await writeManifest(tmp, {
      kind: lora ? 'lora-adapter' : 'model',
      config: input,
      seeds: { data: input.seed },
      inputs: [
        { uri: input.dataset, sha256: dataSha },
        { uri: input.model.uri, sha256: modelKey },
      ],
      files: ['log.jsonl', 'result.json'],
    });
  });
  return { ...(JSON.parse(await readFile(join(outPath, 'result.json'), 'utf8')) as SftOutput), reused: false };
}
