// One device-name parser: the schemas' device field, the workflows' task queues, the device worker and
// the engine's execution providers accept and refuse the same names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDevice as engineDevice } from '../engine/runner/session';
import { schemas } from '../schemas';
import { parseDevice as workerDevice } from '../workers/device';
import { deviceTaskQueue } from '../workflows/task-queues';

const accepts = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

test('every layer accepts and refuses the same device names', () => {
  for (const [name, ok] of [
    ['cpu', true],
    ['cuda:0', true],
    ['cuda:12', true],
    ['cuda:123', false],
    ['cuda:', false],
    ['cuda:-1', false],
    ['cuda:1 ', false],
    ['gpu', false],
    ['CPU', false],
  ] as const) {
    const schema = schemas.prepareWorldInput.check({ recipe: 'test', device: name }).ok;
    assert.deepEqual(
      [
        schema,
        accepts(() => deviceTaskQueue(name)),
        accepts(() => workerDevice(name)),
        accepts(() => engineDevice(name)),
      ],
      [ok, ok, ok, ok],
      name,
    );
  }
  assert.equal(deviceTaskQueue('cuda:12'), 'rewrite-rl-device-cuda-12');
  assert.deepEqual(engineDevice('cuda:3'), { kind: 'cuda', id: 3 });
  assert.throws(() => workerDevice('tpu'), /unknown device "tpu": expected 'cpu' or 'cuda:N'/);
});
