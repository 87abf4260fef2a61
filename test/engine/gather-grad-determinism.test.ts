import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../engine/graph';
import * as op from '../../engine/ops';
import { grad } from '../../engine/autodiff';
import { serializeModel } from '../../engine/onnx';
import { createSession, runSession } from '../../engine/runner/session';
import { rand } from './helpers/gradcheck';

// The embedding's gradient sums the rows of dY that share a token id. A scatter that adds them from
// several threads at once loses updates when two threads hit one row, so with 2 threads the same
// program gave different (and too small) gradients run to run. This checks, at 2 threads, on a batch
// shaped like the world's (2,048 positions, few distinct ids, width 128), that every run gives the
// same bits and the exact sum.
test('the Gather gradient (embedding) is exact and the same on every run at 2 threads', async () => {
  const [vocab, width, positions] = [17, 128, 2048];
  const g = new Graph();
  const table = g.input('table', 'float32', [vocab, width]);
  const ids = g.input('ids', 'int64', [16, positions / 16]);
  const dy = g.input('dy', 'float32', [16, positions / 16, width]);
  const loss = op.reduceSum(op.mul(op.gather(table, ids, 0), dy));
  g.output('grad', grad(loss, [table])[0]);
  const session = await createSession(serializeModel(g), { intraOpThreads: 2 });
  const idValues = rand(positions, 7, 0, vocab).map(Math.floor);
  const dyValues = Float32Array.from(rand(positions * width, 11, -1, 1));
  const feeds = {
    table: { dtype: 'float32' as const, shape: [vocab, width], data: new Float32Array(vocab * width) },
    ids: { dtype: 'int64' as const, shape: [16, positions / 16], data: BigInt64Array.from(idValues, BigInt) },
    dy: { dtype: 'float32' as const, shape: [16, positions / 16, width], data: dyValues },
  };
  const exact = new Float64Array(vocab * width);
  idValues.forEach((id, p) => {
    for (let c = 0; c < width; c++) exact[id * width + c] += dyValues[p * width + c];
  });
  const first = (await runSession(session, feeds)).grad.data as Float32Array;
  let worst = 0;
  first.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - exact[k]))));
  assert.ok(worst < 1e-3, `largest difference to the exact sum: ${worst}`);
  for (let run = 1; run < 40; run++) {
    const again = (await runSession(session, feeds)).grad.data as Float32Array;
    const differing = again.findIndex((v, k) => v !== first[k]);
    assert.equal(differing, -1, `run ${run} differs from the first at element ${differing}`);
  }
  await session.release();
});
