import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore } from '../../activities/artifact-store';
import { prepareWorld } from '../../activities/world';
import { gate } from '../../method/gate';
import {
  DEFAULT_WORLD_DATA,
  LEGACY_DATA_SEEDS,
  trainSampleSeed,
  VALIDATION_SIZE,
  validationSlice,
  writeTrainSets,
  writeValidationSet,
} from '../../world/materialize';
import { distinct, makeWorld, splitOf } from '../../world/world';
import { tempDir } from '../helpers/temporal';

const world = makeWorld(0);
const size = DEFAULT_WORLD_DATA.downstreamTrainSize;
const sampleOf = (dataSeed: number) =>
  new Set(distinct(world.downstream, 'train', size, trainSampleSeed(0, dataSeed)).map((p) => p.question));

test('the validation slice: of the downstream train split, in no data seed sample and no test record', async () => {
  const slice = validationSlice(world, size);
  assert.equal(slice.length, VALIDATION_SIZE);
  const questions = slice.map((p) => p.question);
  assert.equal(new Set(questions).size, VALIDATION_SIZE);
  assert.ok(
    slice.every((p) => p.family === 'shop' && splitOf(p.question) === 'train'),
    'every problem is of the train split',
  );
  const testSplit = new Set(distinct(world.downstream, 'test', 500, 6).map((p) => p.question));
  assert.ok(!questions.some((q) => testSplit.has(q)), 'no downstream test record');
  for (let d = 0; d <= 5; d++) {
    const sample = sampleOf(d);
    assert.equal(questions.filter((q) => sample.has(q)).length, 0, `data seed ${d}`);
  }
  // a later data seed's sample skips the slice, by construction
  const later = await tempDir();
  const files = await writeTrainSets(
    later,
    world,
    { dataSeed: LEGACY_DATA_SEEDS + 1, downstreamTrainSize: size, mixtures: [] },
    (r) => r,
  );
  const laterQs = readFileSync(join(later, files.foreign), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { question: string }).question);
  assert.equal(laterQs.length, size);
  assert.equal(laterQs.filter((q) => questions.includes(q)).length, 0);
  // the written slice: y* in the foreign style, the own-style oracle beside it, both passing the world's gate
  const path = join(await tempDir(), 'validation.jsonl');
  assert.equal(await writeValidationSet(path, world, size), VALIDATION_SIZE);
  const rows = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; question: string; answer: string; oracle: string });
  assert.deepEqual(
    rows.map((r) => r.question),
    questions,
  );
  assert.ok(rows.every((r) => r.answer.includes('; ') && !r.oracle.includes('; ')));
  assert.ok(rows.every((r) => gate(r.oracle, r.answer, { checks: ['answer', 'equations', 'steps'] }).pass));
});

test('the training sets of the data seeds drawn before the slice are unchanged, byte for byte', async () => {
  // sha256 of each data seed's training files (size 2000, mixtures 25/50/75) as written before the slice
  const before: Record<number, string> = {
    0: '5b5bef6430aa18909546abc1097db09823137d51ad3ede3df0424d8e22044f2c',
    1: 'bb9a4901f3d3a969305f23a3df95a5993fc841e25c3b937dd1ee1516a5df2285',
    2: '5a21266ee5e217bcc9d092bf77dc5ed9b85a99f70229bbf03d822742a46b1e31',
    7: 'e84fedf3370a684082e01b1ba6e396a078120da79c86a282cb843ddaba4cb2ee',
  };
  for (const [dataSeed, sha] of Object.entries(before)) {
    const dir = await tempDir();
    const files = await writeTrainSets(
      dir,
      world,
      { dataSeed: Number(dataSeed), downstreamTrainSize: size, mixtures: DEFAULT_WORLD_DATA.mixtures },
      (r) => r,
    );
    const h = createHash('sha256');
    for (const k of Object.keys(files).sort()) h.update(k + '\0' + readFileSync(join(dir, files[k])));
    assert.equal(h.digest('hex'), sha, `data seed ${dataSeed}`);
  }
});

test('prepareWorld returns the validation slice, written beside the world in its own folder', async () => {
  const store = new ArtifactStore(await tempDir());
  const progress = { heartbeat: () => {}, checkCancelled: () => {} };
  const first = await prepareWorld(store, { recipe: 'test' }, progress);
  assert.ok(first.validation?.startsWith(`${first.uri}-validation/`), first.validation);
  const rows = readFileSync(store.resolve(first.validation!), 'utf8').trim().split('\n');
  assert.equal(rows.length, VALIDATION_SIZE);
  const stored = JSON.parse(readFileSync(join(store.resolve(first.uri), 'world.json'), 'utf8')) as object;
  assert.ok(!('validation' in stored), "the world's own files are as they were");
  const again = await prepareWorld(store, { recipe: 'test', dataSeed: 1 }, progress);
  assert.equal(again.validation, first.validation);
  assert.equal(again.reused, true);
});
