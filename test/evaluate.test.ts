// evaluateBenchmark on a real (tiny, random) model with onnxruntime: outputs, idempotency, and
// resuming after a failed attempt without redoing finished batches.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { schemas } from '../schemas';
import { evaluateBenchmark } from '../activities/device/evaluate';
import { DeviceSession } from '../activities/device/session';
import { scoreDataset } from '../activities/device/score-dataset';
import { isCorrect } from '../method/extract';
import { jsonl, noProgress, put } from './helpers/data';
import { putBenchmark, putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

test('predictions, strict and lenient accuracy, and a summary; a repeated run is reused', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const data = await putBenchmark(root, 'plus', 7);
  const benchmark = { name: 'plus', data, extractor: { kind: 'boxed' as const }, maxNewTokens: 6 };
  const r = await evaluateBenchmark(store, session, { model, benchmark, batchSize: 3 }, noProgress);
  schemas.benchmarkResult.parse(r);
  assert.equal(r.items, 7);
  assert.equal(r.reused, false);
  const preds = readFileSync(store.resolve(`${r.uri}/predictions.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    preds.map((p) => p.id),
    Array.from({ length: 7 }, (_, i) => `plus-${i}`),
  );
  for (const p of preds) {
    assert.equal(p.strict.correct, isCorrect(p.completion, p.gold, { kind: 'boxed' }, 'strict'));
    assert.ok(p.tokens <= 6);
  }
  assert.equal(r.strict, (100 * preds.filter((p) => p.strict.correct).length) / 7);
  assert.equal(r.lenient, (100 * preds.filter((p) => p.lenient.correct).length) / 7);
  assert.equal(r.truncated, preds.filter((p) => p.finishReason === 'length').length);
  const manifest = JSON.parse(readFileSync(store.resolve(`${r.uri}/manifest.json`), 'utf8'));
  assert.equal(manifest.kind, 'evaluation');
  const again = await evaluateBenchmark(store, session, { model, benchmark, batchSize: 5 }, noProgress);
  assert.deepEqual({ ...again, reused: false }, r);
  assert.equal(again.reused, true);
});

test('a failed attempt leaves its finished batches; the retry continues from them with the same result', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const benchmark = {
    name: 'resume',
    data: await putBenchmark(root, 'resume', 8),
    extractor: { kind: 'boxed' as const },
    maxNewTokens: 5,
  };
  let checks = 0;
  const crashing = {
    heartbeat() {},
    checkCancelled: () => {
      if (++checks === 3) throw new Error('worker killed');
    },
  };
  await assert.rejects(
    evaluateBenchmark(store, session, { model, benchmark, batchSize: 3 }, crashing),
    /worker killed/,
  );
  const evalDir = store.resolve('evaluations');
  const modelDir = readdirSync(evalDir)[0];
  const partial = readdirSync(`${evalDir}/${modelDir}`).find((d) => d.endsWith('.partial'))!;
  const batches = readdirSync(`${evalDir}/${modelDir}/${partial}`);
  assert.deepEqual(batches, ['batch-000000.jsonl', 'batch-000001.jsonl']);
  const mtime = statSync(`${evalDir}/${modelDir}/${partial}/batch-000000.jsonl`).mtimeMs;
  let heartbeats = 0;
  const resumed = await evaluateBenchmark(
    store,
    session,
    { model, benchmark, batchSize: 3 },
    { heartbeat: () => heartbeats++, checkCancelled() {} },
  );
  assert.equal(heartbeats, 1, 'only the missing batch ran');
  assert.equal(resumed.items, 8);
  assert.ok(!readdirSync(`${evalDir}/${modelDir}`).some((d) => d.endsWith('.partial')), 'the work folder is removed');
  // a clean run in another store gives the same predictions
  const root2 = await tempDir();
  const store2 = new ArtifactStore(root2);
  const clean = await evaluateBenchmark(
    store2,
    session,
    {
      model: { uri: await putTinyModel(root2) },
      benchmark: { ...benchmark, data: await putBenchmark(root2, 'resume', 8) },
      batchSize: 8,
    },
    noProgress,
  );
  const read = (s: ArtifactStore, uri: string) => readFileSync(s.resolve(`${uri}/predictions.jsonl`), 'utf8');
  assert.equal(read(store, resumed.uri), read(store2, clean.uri));
  assert.ok(mtime > 0);
});

test('scoreDataset: mean NLL per answer token, independent of the batching', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const rows = Array.from({ length: 9 }, (_, i) => ({ id: `s${i}`, question: `q ${i}`, answer: 'x'.repeat(i + 1) }));
  const dataset = await put(root, 'data/s.jsonl', jsonl(rows));
  const a = await scoreDataset(store, session, { model, dataset, batchSize: 4 }, noProgress);
  assert.equal(a.records, 9);
  assert.ok(a.meanNll > 0 && Number.isFinite(a.meanNll));
  const perRecord = readFileSync(store.resolve(`${a.uri}/nll.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    perRecord.reduce((s, r) => s + r.tokens, 0),
    a.tokens,
  );
  const weighted = perRecord.reduce((s, r) => s + r.nll * r.tokens, 0) / a.tokens;
  assert.ok(Math.abs(weighted - a.meanNll) < 1e-9);
  const root2 = await tempDir();
  const store2 = new ArtifactStore(root2);
  const b = await scoreDataset(
    store2,
    session,
    { model: { uri: await putTinyModel(root2) }, dataset: await put(root2, 'data/s.jsonl', jsonl(rows)), batchSize: 9 },
    noProgress,
  );
  assert.ok(Math.abs(a.meanNll - b.meanNll) < 1e-5, `${a.meanNll} vs ${b.meanNll}`);
  assert.equal((await scoreDataset(store, session, { model, dataset, batchSize: 2 }, noProgress)).reused, true);
  assert.equal(a.embeddings, undefined, 'embeddings only when asked for');
});

test('scoreDataset with embeddings: one unit vector per answer, the same NLL, a stage of its own', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: `e${i}`, question: `q ${i}`, answer: 'ab'.repeat(i + 1) }));
  const dataset = await put(root, 'data/e.jsonl', jsonl(rows));
  const plain = await scoreDataset(store, session, { model, dataset }, noProgress);
  const withEmb = await scoreDataset(store, session, { model, dataset, embeddings: true, batchSize: 2 }, noProgress);
  assert.equal(withEmb.reused, false);
  assert.notEqual(withEmb.uri, plain.uri);
  assert.ok(Math.abs(withEmb.meanNll - plain.meanNll) < 1e-5);
  const emb = readFileSync(store.resolve(withEmb.embeddings!), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; embedding: number[] });
  assert.deepEqual(
    emb.map((e) => e.id),
    rows.map((r) => r.id),
  );
  for (const e of emb) assert.ok(Math.abs(Math.hypot(...e.embedding) - 1) < 1e-6);
  assert.notDeepEqual(emb[0].embedding, emb[4].embedding, 'different answers, different embeddings');
});
