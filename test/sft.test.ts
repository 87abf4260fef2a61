// sft on a real (tiny) model with onnxruntime: full and LoRA, and resuming after a crash.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { evaluateBenchmark } from '../activities/device/evaluate';
import { DeviceSession } from '../activities/device/session';
import { sft } from '../activities/device/sft';
import { loadHFModel } from '../engine/model';
import { jsonl, noProgress, put } from './helpers/data';
import { putBenchmark, putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

const rows = Array.from({ length: 6 }, (_, i) => ({
  id: `r${i}`,
  question: `what is ${i} plus 1`,
  answer: `\\boxed{${i + 1}}`,
}));

async function setup() {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  return {
    root,
    store,
    model: { uri: await putTinyModel(root) },
    dataset: await put(root, 'data/train.jsonl', jsonl(rows)),
  };
}

test('full fine-tuning drives the loss down and writes a Hugging Face folder that evaluate loads', async () => {
  const { root, store, model, dataset } = await setup();
  const input = {
    model,
    dataset,
    epochs: 10,
    batchSize: 3,
    learningRate: 1e-2,
    schedule: 'constant' as const,
    checkpointEvery: 50,
  };
  const out = await sft(store, session, input, noProgress);
  assert.equal(out.steps, 20);
  assert.ok(out.finalLoss < out.firstLoss / 3, `loss ${out.firstLoss} -> ${out.finalLoss}`);
  const folder = store.resolve(out.uri);
  const loaded = await loadHFModel(folder);
  assert.equal(loaded.config.numLayers, 2);
  assert.ok(loaded.tokenizer);
  const log = readFileSync(`${folder}/log.jsonl`, 'utf8').trim().split('\n');
  assert.equal(log.length, 20);
  const benchmark = {
    name: 'train',
    data: await putBenchmark(root, 'x', 2),
    extractor: { kind: 'boxed' as const },
    maxNewTokens: 8,
  };
  const evald = await evaluateBenchmark(store, session, { model: out.model, benchmark, batchSize: 2 }, noProgress);
  assert.equal(evald.items, 2);
  assert.equal((await sft(store, session, input, noProgress)).reused, true);
});

test('LoRA fine-tuning writes a PEFT adapter; the output model is the base with the adapter', async () => {
  const { store, model, dataset } = await setup();
  const out = await sft(
    store,
    session,
    {
      model,
      dataset,
      mode: 'lora',
      lora: { rank: 4, alpha: 8 },
      epochs: 6,
      batchSize: 3,
      learningRate: 2e-2,
      schedule: 'constant',
    },
    noProgress,
  );
  assert.deepEqual(out.model, { uri: model.uri, adapter: out.uri });
  const cfg = JSON.parse(readFileSync(store.resolve(`${out.uri}/adapter_config.json`), 'utf8'));
  assert.equal(cfg.r, 4);
  // a base PEFT can load (the folder), not the artifact:// URI no other tool resolves
  assert.equal(cfg.base_model_name_or_path, store.resolve(model.uri));
  assert.ok(existsSync(join(cfg.base_model_name_or_path, 'config.json')));
  assert.ok(out.finalLoss < out.firstLoss, `loss ${out.firstLoss} -> ${out.finalLoss}`);
  const merged = await session.model(store, out.model);
  assert.ok(merged.model.weights);
});

test("packed SFT (input.packed) trains to the padded run's losses, under an artifact key of its own", async () => {
  const { store, model, dataset } = await setup();
  const input = {
    model,
    dataset,
    epochs: 4,
    batchSize: 3,
    learningRate: 1e-2,
    schedule: 'constant' as const,
    stepsPerRun: 2,
  };
  const padded = await sft(store, session, input, noProgress);
  const packed = await sft(store, session, { ...input, packed: true }, noProgress);
  assert.notEqual(packed.uri, padded.uri);
  assert.equal(packed.reused, false);
  const losses = (uri: string) =>
    readFileSync(`${store.resolve(uri)}/log.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number }).loss);
  const [a, b] = [losses(padded.uri), losses(packed.uri)];
  assert.equal(b.length, a.length);
  assert.ok(a[a.length - 1] < a[0], `padded losses ${a}`);
  assert.ok(Math.max(...a.map((x, i) => Math.abs(x - b[i]))) < 1e-3, `padded ${a} / packed ${b}`);
});

test('a crash after a checkpoint resumes from it and ends with the parameters of an uninterrupted run', async () => {
  const recipe = { epochs: 4, batchSize: 2, learningRate: 5e-3, checkpointEvery: 4, stepsPerRun: 2, seed: 3 };
  const a = await setup();
  let checks = 0;
  const crashing = {
    heartbeat() {},
    checkCancelled: () => {
      if (++checks === 4) throw new Error('worker killed'); // after 6 of 12 steps, checkpoint at 4
    },
  };
  await assert.rejects(
    sft(a.store, session, { model: a.model, dataset: a.dataset, ...recipe }, crashing),
    /worker killed/,
  );
  const resumed = await sft(a.store, session, { model: a.model, dataset: a.dataset, ...recipe }, noProgress);
  const b = await setup();
  const straight = await sft(b.store, session, { model: b.model, dataset: b.dataset, ...recipe }, noProgress);
  assert.equal(resumed.steps, 12);
  const weights = (s: ArtifactStore, uri: string) => readFileSync(s.resolve(`${uri}/model.safetensors`));
  assert.ok(weights(a.store, resumed.uri).equals(weights(b.store, straight.uri)), 'bit-identical weights');
  assert.equal(
    readFileSync(a.store.resolve(resumed.log), 'utf8'),
    readFileSync(b.store.resolve(straight.log), 'utf8'),
    'the same per-step log',
  );
});
