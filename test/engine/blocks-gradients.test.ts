import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as op from '../../engine/ops';
import * as nn from '../../engine/nn';
import { grpoLoss } from '../../engine/programs/grpo-loss';
import { gradCheck, rand, randomInput } from './helpers/gradcheck';

let worst = 0;
const track = <T extends { worst: number }>(r: T): T => {
  worst = Math.max(worst, r.worst);
  return r;
};
after(() => console.log(`# composite gradient checks: worst relative error ${worst.toExponential(2)}`));
const X = randomInput;

test('grad composite: causal self-attention (2 heads)', async () => {
  const r = track(
    await gradCheck(
      (x) => nn.causalSelfAttention(x.x, { wq: x.wq, wk: x.wk, wv: x.wv, wo: x.wo }, 2),
      [X('x', [2, 4, 8], 1), X('wq', [8, 8], 2), X('wk', [8, 8], 3), X('wv', [8, 8], 4), X('wo', [8, 8], 5)],
    ),
  );
  assert.ok(r.checked === 64 + 4 * 64);
});

test('grad composite: RMSNorm', async () => {
  const r = track(await gradCheck((x) => nn.rmsNorm(x.x, x.w, 1e-5), [X('x', [3, 6], 6), X('w', [6], 7, 0.5, 1.5)]));
  assert.equal(r.checked, 24);
});

test('grad composite: SwiGLU', async () => {
  const r = track(
    await gradCheck(
      (x) => nn.swiglu(x.x, x.g, x.u, x.d),
      [X('x', [2, 3, 4], 8), X('g', [4, 6], 9), X('u', [4, 6], 10), X('d', [6, 4], 11)],
    ),
  );
  assert.equal(r.checked, 24 + 3 * 24);
});

test('grad composite: masked token cross-entropy', async () => {
  const r = track(
    await gradCheck(
      (x) => nn.maskedCrossEntropy(x.logits, x.targets, x.mask),
      [
        X('logits', [2, 3, 5], 12, -2, 2),
        { name: 'targets', shape: [2, 3], values: [1, 4, 0, 2, 2, 3], dtype: 'int64' },
        { name: 'mask', shape: [2, 3], values: [1, 1, 0, 0, 1, 1], diff: false },
      ],
    ),
  );
  assert.equal(r.checked, 30);
});

test('grad composite: GRPO clipped surrogate with k3 KL (clipped and unclipped tokens)', async () => {
  // log-ratios chosen away from the clip kinks at 1 +- 0.2: some inside, some clipped on each side.
  const logp = [0.05, -0.4, 0.3, -0.1, 0.12, -0.25, 0.5, 0.02];
  const r = track(
    await gradCheck(
      (x) =>
        grpoLoss({
          logp: op.add(x.logp, x.old),
          oldLogp: x.old,
          refLogp: x.ref,
          advantages: x.adv,
          mask: x.mask,
          clip: 0.2,
          klCoef: 0.05,
        }).loss,
      [
        { name: 'logp', shape: [2, 4], values: logp },
        { name: 'old', shape: [2, 4], values: rand(8, 13, -2, -0.5), diff: false },
        X('ref', [2, 4], 14, -2, -0.5),
        { name: 'adv', shape: [2], values: [0.8, -1.3], diff: false },
        { name: 'mask', shape: [2, 4], values: [1, 1, 1, 0, 1, 1, 1, 1], diff: false },
      ],
    ),
  );
  assert.equal(r.checked, 16);
});
