import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { schemas } from '../../schemas';
import { takesOracle, writeTrainSets, writeWorldData } from '../../world/materialize';
import { makeWorld } from '../../world/world';
import { tempDir } from '../helpers/temporal';

test('the world data: benchmarks with valid specs, foreign, oracle and mixed training sets of the same problems', async () => {
  const dir = await tempDir();
  const data = await writeWorldData(
    dir,
    { seed: 0, benchmarkSize: 50, downstreamTrainSize: 200, mixtures: [0.5] },
    (rel) => `artifact://w/${rel}`,
  );
  assert.deepEqual(
    data.benchmarks.map((b) => [b.name, b.role]),
    [
      ['arithmetic', 'general'],
      ['comparison', 'general'],
      ['strings', 'general'],
      ['counting', 'general'],
      ['facts', 'general'],
      ['shop', 'downstream'],
    ],
  );
  for (const b of data.benchmarks) schemas.benchmarkSpec.parse(b);
  const read = (rel: string) =>
    readFileSync(join(dir, rel), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  assert.equal(read('benchmarks/facts.jsonl').length, 50);
  const foreign = read('downstream/train-foreign.jsonl');
  const oracle = read('downstream/train-oracle.jsonl');
  const mixed = read('downstream/train-oracle-50.jsonl');
  assert.deepEqual(
    foreign.map((r) => r.id),
    oracle.map((r) => r.id),
  );
  assert.ok(foreign.every((r, i) => r.answer !== oracle[i].answer && r.answer.includes('; ')));
  const fromOracle = mixed.filter((r, i) => r.answer === oracle[i].answer).length;
  assert.equal(fromOracle, mixed.filter((r) => takesOracle(r.id, 0.5, 0)).length);
  assert.ok(fromOracle > 70 && fromOracle < 130, String(fromOracle));
  const testQs = new Set(read('benchmarks/shop.jsonl').map((r) => r.question));
  assert.ok(!foreign.some((r) => testQs.has(r.question)), 'the downstream test split is held out');
});

test('another data seed: another sample of the downstream train split, still held out from the test split', async () => {
  const options = { seed: 0, downstreamTrainSize: 200, mixtures: [0.5] };
  const read = (dir: string, rel: string) =>
    readFileSync(join(dir, rel), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; question: string; answer: string });
  const world = await tempDir();
  await writeWorldData(world, { ...options, benchmarkSize: 500 }, (rel) => rel);
  const own = await tempDir();
  const again = await writeTrainSets(own, makeWorld(0), { ...options, dataSeed: 0 }, (rel) => rel);
  assert.deepEqual(Object.keys(again), ['foreign', 'oracle', 'oracle-50']);
  assert.equal(
    readFileSync(join(own, again.foreign), 'utf8'),
    readFileSync(join(world, 'downstream/train-foreign.jsonl'), 'utf8'),
    'data seed 0 is the sample the world holds',
  );
  const other = await tempDir();
  const files = await writeTrainSets(other, makeWorld(0), { ...options, dataSeed: 1 }, (rel) => rel);
  const first = new Set(read(world, 'downstream/train-foreign.jsonl').map((r) => r.question));
  const foreign = read(other, files.foreign);
  const oracle = read(other, files.oracle);
  assert.equal(foreign.length, 200);
  assert.equal(new Set(foreign.map((r) => r.question)).size, 200);
  const shared = foreign.filter((r) => first.has(r.question)).length;
  assert.ok(shared < 100, `${shared} of 200 problems shared with data seed 0`);
  assert.deepEqual(
    oracle.map((r) => r.id),
    foreign.map((r) => r.id),
  );
  const testQs = new Set(read(world, 'benchmarks/shop.jsonl').map((r) => r.question));
  assert.ok(!foreign.some((r) => testQs.has(r.question)), 'the downstream test split is held out');
});
