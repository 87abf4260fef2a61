import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as op from '../../engine/ops';
import { attentionCore, embedding, linear, rmsNormalize, swiGlu } from '../../engine/model/composites';
import { gradCheck, randomInput as X, type CheckInput } from './helpers/gradcheck';

// The fused layers' hand-written gradients (engine/model/composites.ts) against central finite
// differences in float64, alone, inside larger expressions, and with an input that needs no gradient.
const M = (name: string, shape: number[], values: number[]): CheckInput => ({ name, shape, values, diff: false });
const causal = (q: number, k: number) =>
  Array.from({ length: q * k }, (_, i) => (i % k <= Math.floor(i / k) + (k - q) ? 0 : -1e9));

const cases: [string, Parameters<typeof gradCheck>[0], CheckInput[]][] = [
  ['rmsNormalize', (x) => rmsNormalize(x.a, 1e-6), [X('a', [2, 3, 5], 1)]],
  ['rmsNormalize, another eps', (x) => rmsNormalize(x.a, 1e-2), [X('a', [4, 6], 3)]],
  [
    'rmsNormalize of a function of its input, used twice',
    (x) => op.mul(rmsNormalize(op.mul(x.a, x.a), 1e-6), rmsNormalize(x.a, 1e-6)),
    [X('a', [3, 4], 4)],
  ],
  ['swiGlu', (x) => swiGlu(x.g, x.u), [X('g', [3, 7], 6, -3, 3), X('u', [3, 7], 7)]],
  ['swiGlu, gate and up one tensor', (x) => swiGlu(x.g, op.tanh(x.g)), [X('g', [2, 5], 8, -3, 3)]],
  // wider than tall: the weight gradient as (dy^T x)^T, over rows folded from batch axes
  ['linear, weight wider than tall', (x) => linear(x.x, x.w), [X('x', [2, 3, 2], 40), X('w', [2, 5], 41)]],
  ['linear, weight taller than wide', (x) => linear(x.x, x.w), [X('x', [4, 5], 42), X('w', [5, 3], 43)]],
  ['linear of a computed weight', (x) => linear(x.x, op.mul(x.w, x.w)), [X('x', [3, 2], 44), X('w', [2, 4], 45)]],
  [
    'attentionCore (causal bias)',
    (x) => attentionCore(x.q, x.k, x.bias, x.v),
    [
      X('q', [2, 2, 3, 4], 9),
      X('k', [2, 2, 5, 4], 10),
      M('bias', [2, 1, 3, 5], [...causal(3, 5), ...causal(3, 5)]),
      X('v', [2, 2, 5, 4], 11),
    ],
  ],
  [
    'attentionCore with keys and values from one tensor',
    (x) => attentionCore(op.mul(x.q, 0.5), x.kv, x.bias, op.tanh(x.kv)),
    [X('q', [1, 3, 4], 12), X('kv', [1, 3, 4], 13), M('bias', [1, 3, 3], causal(3, 3))],
  ],
  [
    'embedding (one-hot gradient; repeated and unused rows)',
    (x) => op.mul(embedding(x.w, x.t), op.reshape(embedding(x.w, op.reshape(x.t, [6])), [2, 3, 3])),
    [X('w', [5, 3], 14), { name: 't', shape: [2, 3], values: [4, 1, 4, 0, 1, 1], dtype: 'int64' }],
  ],
];

for (const [name, build, inputs] of cases) {
  test(`composite gradient: ${name}`, async () => {
    const r = await gradCheck(build, inputs);
    assert.ok(r.checked > 0);
  });
}
