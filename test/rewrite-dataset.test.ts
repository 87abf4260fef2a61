// Generate -> Verify -> Fallback on a real (tiny) model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { evaluateBenchmark, type EvaluateBenchmarkInputInput } from '../activities/device/evaluate';
import { rewriteDataset, type RewriteDatasetInputInput } from '../activities/device/rewrite-dataset';
import { selfAlignDataset } from '../activities/device/self-align';
import { DeviceSession } from '../activities/device/session';
import { SchemaError } from '../schemas';
import { jsonl, noProgress, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

test('every record keeps its original and candidates; failures fall back to y*; samples are batch-independent', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, question: `q${i}`, answer: `so \\boxed{${i}}` }));
  const dataset = await put(root, 'data/train.jsonl', jsonl(rows));
  const run = (batchSize: number, name: string) =>
    rewriteDataset(
      store,
      session,
      { model, dataset, name, samples: 3, temperature: 0.8, seed: 4, maxNewTokens: 12, batchSize },
      noProgress,
    );
  const a = await run(4, 'a');
  assert.equal(a.records, 5);
  const data = readFileSync(store.resolve(a.data), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const [i, row] of data.entries()) {
    assert.equal(row.original, rows[i].answer);
    assert.equal(row.candidates.length, 3);
    assert.equal(row.num_rewrite_trials, 3);
    if (!row.rewrite_success) assert.equal(row.answer, row.original);
  }
  assert.equal(a.passRate, data.filter((r) => r.rewrite_success).length / 5);
  const b = await run(15, 'b');
  const other = readFileSync(store.resolve(b.data), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    other.map((r) => r.candidates.map((c: { text: string }) => c.text)),
    data.map((r) => r.candidates.map((c: { text: string }) => c.text)),
  );
  assert.equal((await run(2, 'a')).reused, true);
});

test('with k samples the feasible candidate with the best group reward is kept, with its provenance', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: await putTinyModel(root) };
  const rows = Array.from({ length: 4 }, (_, i) => ({ id: `r${i}`, question: `q${i}`, answer: `so \\boxed{${i}}` }));
  const dataset = await put(root, 'data/train.jsonl', jsonl(rows));
  // an extractor that reads the same (empty) answer from every text: every candidate is feasible, so
  // only the reward decides
  const everyonePasses = { kind: 'regex' as const, pattern: '^()' };
  const out = await rewriteDataset(
    store,
    session,
    {
      model,
      dataset,
      name: 'by-reward',
      gate: { extractor: everyonePasses, checks: ['answer'] },
      samples: 4,
      temperature: 1,
      seed: 2,
      maxNewTokens: 10,
    },
    noProgress,
  );
  assert.equal(out.passRate, 1);
  assert.equal(out.answerPassRate, 1);
  const data = readFileSync(store.resolve(out.data), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const row of data) {
    const rewards = row.candidates.map((c: { reward: { reward: number } }) => c.reward.reward);
    const best = rewards.indexOf(Math.max(...rewards));
    assert.equal(row.chosen, best);
    assert.equal(row.answer, row.candidates[best].text);
    assert.deepEqual(row.chosen_reward, row.candidates[best].reward);
    assert.ok(row.chosen_reward.dist >= 0 && row.chosen_reward.dist <= 1);
  }
});

test('the dataset builders and evaluateBenchmark check their input at the boundary, naming the bad field', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const model = { uri: 'models/none' };
  const bad = { model, dataset: 'data/train.jsonl', samples: 0, typo: 1 } as unknown as RewriteDatasetInputInput;
  await assert.rejects(rewriteDataset(store, session, bad, noProgress), (e: Error) => {
    assert.ok(e instanceof SchemaError);
    assert.match(
      e.message,
      /rewriteDataset input is invalid: \$\.typo: is not a known field .*\$\.samples: must be >= 1/,
    );
    return true;
  });
  const escape = { model, dataset: '../outside.jsonl' };
  await assert.rejects(
    selfAlignDataset(store, session, escape, noProgress),
    /selfAlignDataset input is invalid: \$\.dataset/,
  );
  const noBatch = { model, benchmark: { name: 'b', data: 'b.jsonl', extractor: { kind: 'boxed' } } };
  await assert.rejects(
    evaluateBenchmark(store, session, noBatch as unknown as EvaluateBenchmarkInputInput, noProgress),
    /evaluateBenchmark input is invalid: \$\.batchSize: .*\(required\)/,
  );
});
