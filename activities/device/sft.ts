// sft: supervised fine-tuning (full or LoRA) of a model on {id, question, answer} records, a stage
// over the training loop (training/). The run's folders are derived from its input: checkpoints in
// work/<name>-<key>/, and the result, a Hugging Face model folder (full) or a PEFT adapter (lora)
// with log.jsonl and manifest.json, in models/<name>-<key>/, written atomically at the end. A retry
// resumes from the last checkpoint.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveHFFolder } from '../../engine/hf-folder';
import { initLoraWeights, loraConfig, savePeftAdapter, type LoraWeights } from '../../engine/lora';
import { eosTokenIds } from '../../engine/model';
import type { SftExample } from '../../engine/programs/train';
import { fill } from '../../method/prompts';
import { schemas, type SftInputInput, type SftOutput } from '../../schemas';
import { learningRateAt, trainLoop } from '../../training';
import type { ArtifactStore } from '../artifact-store';
import { mapBreathing } from '../breathe';
import type { Progress } from '../datasets/import-dataset';
import { InputError } from '../errors';
import { dataInput, readRecords } from '../records';
import { stage } from '../stage';
import type { DeviceSession } from './session';

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
  const data = await dataInput(store, input.dataset);
  const modelKey = await session.modelKey(store, input.model);
  // identified by content: the same weights and data under other URIs reuse the result
  const { name: _name, device: _device, model: _model, dataset: _dataset, ...recipe } = input;
  return stage(
    store,
    {
      kind: input.mode === 'lora' ? 'lora-adapter' : 'model',
      dir: 'models',
      name: input.name,
      key: { modelKey, dataSha: data.sha256, recipe },
      config: input,
      seeds: { data: input.seed },
      inputs: [
        { uri: input.dataset, sha256: data.sha256 },
        { uri: input.model.uri, sha256: modelKey },
      ],
      summaryFile: 'result.json',
    },
    async ({ key, uri, tmp }): Promise<SftOutput> => {
      const records = await readRecords(data, ['question', 'answer'], { nonEmpty: true });
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
        singleStep: input.stepsPerRun === 1,
        packed: input.packed,
      });
      const { model } = loaded;
      const tokenizer = model.tokenizer!;
      const eos = eosTokenIds(model)[0];
      if (eos === undefined) throw new InputError(`${input.model.uri}: the model names no end-of-sequence token`);
      const examples: SftExample[] = await mapBreathing(records, (r, i) => {
        const prompt = tokenizer.encode(fill(input.promptFormat, { question: r.question }));
        const target = [...tokenizer.encode(r.answer, { addSpecialTokens: false }), eos];
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
        onProgress: (p) => progress.heartbeat(p),
        checkCancelled: () => progress.checkCancelled(),
      });

      const params = await program.params();
      // PEFT loads the base from adapter_config.json: a path it can open, not the store's URI (kept in the output)
      if (lora)
        await savePeftAdapter(tmp, model.config, lora, params as LoraWeights, {
          baseModel: store.resolve(input.model.uri),
        });
      else
        await saveHFFolder(tmp, model.config, params, {
          tokenizer,
          generationConfig: model.generationConfig,
          overwrite: true,
        });
      await writeFile(join(tmp, 'log.jsonl'), run.log.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const last = run.log.slice(-10);
      return {
        uri,
        model: lora ? { uri: input.model.uri, adapter: uri } : { uri },
        steps: run.steps,
        examples: examples.length,
        firstLoss: run.log[0]?.loss ?? NaN,
        finalLoss: last.reduce((s, l) => s + l.loss, 0) / Math.max(1, last.length),
        log: `${uri}/log.jsonl`,
        reused: false,
      };
    },
  );
}
