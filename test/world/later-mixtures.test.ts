// The oracle mixtures written beside a world (LATER_MIXTURES: 90% and 95% oracle): the same sample as
// the world's own training sets, nested with its mixtures, and the world's files and key untouched.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore } from '../../activities/artifact-store';
import { prepareWorld } from '../../activities/world';
import { writeMixtureSets, writeTrainSets } from '../../world/materialize';
import { LATER_MIXTURES, TEST_RECIPE } from '../../world/recipe';
import { makeWorld } from '../../world/world';
import { tempDir } from '../helpers/temporal';

type Row = { id: string; question: string; answer: string };
const read = (path: string): Row[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);

test('writeMixtureSets: the sample writeTrainSets writes, each record oracle in every share at least its draw', async () => {
  const world = makeWorld(0);
  for (const dataSeed of [0, 1]) {
    const options = { dataSeed, downstreamTrainSize: 300 };
    const full = await tempDir();
    const sets = await writeTrainSets(full, world, { ...options, mixtures: [0.5] }, (r) => r);
    const later = await tempDir();
    const mixed = await writeMixtureSets(later, world, { ...options, mixtures: [0.5, 0.9, 0.95] }, (r) => r);
    assert.deepEqual(Object.keys(mixed), ['oracle-50', 'oracle-90', 'oracle-95']);
    assert.equal(
      readFileSync(join(later, mixed['oracle-50']), 'utf8'),
      readFileSync(join(full, sets['oracle-50']), 'utf8'),
      `data seed ${dataSeed}: the same mixture as the world's`,
    );
    const oracle = read(join(full, sets.oracle));
    const isOracle = (name: string) => read(join(later, mixed[name])).map((r, i) => r.answer === oracle[i].answer);
    const [m50, m90, m95] = ['oracle-50', 'oracle-90', 'oracle-95'].map(isOracle);
    assert.deepEqual(
      read(join(later, mixed['oracle-95'])).map((r) => r.id),
      oracle.map((r) => r.id),
    );
    // nested: a record oracle at 50% is oracle at 90% and 95%
    m50.forEach((o, i) => o && assert.ok(m90[i] && m95[i], `record ${i}`));
    m90.forEach((o, i) => o && assert.ok(m95[i], `record ${i}`));
    const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
    assert.ok(share(m90) > 0.85 && share(m90) < 0.95, String(share(m90)));
    assert.ok(share(m95) > share(m90) && share(m95) < 0.99, String(share(m95)));
  }
});

test('prepareWorld adds the later mixtures of each data seed beside the world, without changing its key or files', async () => {
  assert.deepEqual(LATER_MIXTURES, [0.9, 0.95]);
  assert.ok(!TEST_RECIPE.mixtures.some((s) => LATER_MIXTURES.includes(s)));
  const store = new ArtifactStore(await tempDir());
  const progress = { heartbeat: () => {}, checkCancelled: () => {} };
  const world = await prepareWorld(store, { recipe: 'test' }, progress);
  assert.deepEqual(Object.keys(world.train).sort(), ['foreign', 'oracle', 'oracle-50', 'oracle-90', 'oracle-95']);
  for (const name of ['oracle-90', 'oracle-95'])
    assert.ok(world.train[name].startsWith(`${world.uri}-mixtures-90-95/`), world.train[name]);
  const stored = JSON.parse(readFileSync(join(store.resolve(world.uri), 'world.json'), 'utf8')) as {
    train: Record<string, string>;
  };
  assert.deepEqual(
    Object.keys(stored.train).sort(),
    ['foreign', 'oracle', 'oracle-50'],
    "the world's files as they were",
  );
  const ids = (ref: string) => read(store.resolve(ref)).map((r) => r.id);
  assert.deepEqual(ids(world.train['oracle-95']), ids(world.train.foreign));

  // another data seed: its own sample's mixtures, beside that sample
  const other = await prepareWorld(store, { recipe: 'test', dataSeed: 1 }, progress);
  assert.equal(other.uri, world.uri);
  assert.ok(other.train['oracle-90'].startsWith(`${world.uri}-data1-mixtures-90-95/`), other.train['oracle-90']);
  assert.deepEqual(ids(other.train['oracle-90']), ids(other.train.foreign));
  assert.notDeepEqual(ids(other.train.foreign), ids(world.train.foreign));

  // written once: a second call returns the same files untouched
  const manifest = join(store.resolve(`${world.uri}-mixtures-90-95`), 'manifest.json');
  const mtime = statSync(manifest).mtimeMs;
  const again = await prepareWorld(store, { recipe: 'test' }, progress);
  assert.deepEqual(again.train, world.train);
  assert.equal(statSync(manifest).mtimeMs, mtime);
});
