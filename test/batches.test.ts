import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LengthGroupedBatches } from '../training/batches';
import { Rng } from '../engine/rng';

test('every example once per epoch, similar lengths together, a position that resumes exactly', () => {
  const rng = new Rng(1);
  const lengths = Array.from({ length: 1000 }, () => 20 + rng.int(300));
  const b = new LengthGroupedBatches(lengths, 16, 7, 8);
  const epoch0 = b.batchesOf(0);
  assert.deepEqual(
    epoch0.flat().sort((x, y) => x - y),
    [...lengths.keys()],
  );
  const padded = (batches: number[][]) =>
    batches.reduce((s, x) => s + x.length * Math.max(...x.map((i) => lengths[i])), 0);
  const randomBatches = Array.from({ length: Math.ceil(1000 / 16) }, (_, i) =>
    [...lengths.keys()].slice(i * 16, i * 16 + 16),
  );
  assert.ok(
    padded(epoch0) < 0.75 * padded(randomBatches),
    `${padded(epoch0)} vs ${padded(randomBatches)} padded tokens`,
  );
  assert.notDeepEqual(b.batchesOf(1), epoch0, 'each epoch is shuffled anew');

  const straight = new LengthGroupedBatches(lengths, 16, 7, 8);
  const seq = Array.from({ length: 100 }, () => straight.next());
  const first = new LengthGroupedBatches(lengths, 16, 7, 8);
  const head = Array.from({ length: 40 }, () => first.next());
  const resumed = new LengthGroupedBatches(lengths, 16, 7, 8);
  resumed.position = { ...first.position };
  assert.deepEqual([...head, ...Array.from({ length: 60 }, () => resumed.next())], seq);
});

test('length buckets: a batch never mixes buckets; inside a bucket, random batches', () => {
  const rng = new Rng(2);
  // two populations like the world's: short question-answer examples and long rewriting ones
  const lengths = Array.from({ length: 960 }, () => (rng.float() < 0.2 ? 160 + rng.int(120) : 60 + rng.int(66)));
  const b = new LengthGroupedBatches(lengths, 32, 3, 1, [128]);
  const epoch = b.batchesOf(0);
  assert.deepEqual(
    epoch.flat().sort((x, y) => x - y),
    [...lengths.keys()],
  );
  for (const batch of epoch) {
    const short = batch.filter((i) => lengths[i] <= 128).length;
    assert.ok(short === 0 || short === batch.length, 'a batch holds one bucket');
  }
  // not sorted inside a bucket: batches of short examples span most of the short range
  const shortBatches = epoch.filter((x) => x.length === 32 && lengths[x[0]] <= 128);
  const spans = shortBatches.map((x) => Math.max(...x.map((i) => lengths[i])) - Math.min(...x.map((i) => lengths[i])));
  assert.ok(Math.min(...spans) > 40, `spans of short batches: ${Math.min(...spans)}`);
  const padded = (batches: number[][]) =>
    batches.reduce((s, x) => s + x.length * Math.max(...x.map((i) => lengths[i])), 0);
  const random = new LengthGroupedBatches(lengths, 32, 3, 1).batchesOf(0);
  assert.ok(padded(epoch) < 0.75 * padded(random), `${padded(epoch)} vs ${padded(random)} padded tokens`);
});
