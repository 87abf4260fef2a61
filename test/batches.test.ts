import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LengthGroupedBatches } from '../activities/device/batches';
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
