// The compiled SFT step's gradients equal transformers' autograd on a real (tiny, random) Llama:
// every weight, GQA attention, RoPE, left padding and the prompt mask included
// (fixture: scripts/make-gradient-fixture.py).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Runner } from '../../../engine/runner';
import { isLinearWeight, loadHFModel } from '../../../engine/model';
import { TrainProgram } from '../../../engine/programs/train';
import { readSafetensors, toTensorData } from '../../../engine/safetensors';
import { FIXTURES } from './helpers';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

test('the first SFT step moves every weight by the gradient transformers computes', async () => {
  const dir = join(FIXTURES, 'llama-tiny');
  const model = await loadHFModel(dir);
  const { tensors } = await readSafetensors(join(dir, 'gradients.safetensors'));
  const fx = (name: string) => toTensorData(tensors.get(name)!, name);
  const tokenTensor = fx('tokens');
  const [B, T] = tokenTensor.shape;
  const tokens = tokenTensor.data as BigInt64Array;
  const mask = fx('mask').data as BigInt64Array;
  const promptLen = Array.from(fx('prompt_len').data as BigInt64Array, Number);
  const examples = promptLen.map((p, b) => {
    const row: number[] = [];
    for (let t = 0; t < T; t++) if (mask[b * T + t]) row.push(Number(tokens[b * T + t]));
    return { prompt: row.slice(0, p), target: row.slice(p) };
  });
  assert.equal(examples.length, B);

  // AdamW's first step moves a weight by lr * g / (|g| + eps) exactly (bias-corrected moments are g
  // and g^2), so with lr 1 and no decay or clipping the move d gives back g = eps * d / (1 - |d|).
  const eps = 10;
  const train = await TrainProgram.create(runner, model, {
    objective: 'sft',
    optimizer: { eps, weightDecay: 0 },
    clipNorm: 0,
    name: 'sft-vs-torch',
  });
  await train.init(model.weights);
  const r = await train.step([examples], 1);
  const torchLoss = (fx('loss').data as Float32Array)[0];
  assert.ok(Math.abs(r.losses[0] - torchLoss) < 1e-5, `loss ${r.losses[0]} vs transformers ${torchLoss}`);

  const updated = await train.params();
  let checked = 0;
  for (const [name, moved] of Object.entries(updated)) {
    const before = model.weights[name].data as Float32Array;
    const d = moved.data as Float32Array;
    const ours = Float32Array.from(before, (x, i) => {
      const step = x - d[i];
      return (Math.sign(step) * eps * Math.abs(step)) / (1 - Math.abs(step));
    });
    const ref = fx(`grad.${name}`);
    // the engine keeps linear weights as [in, out]; the fixture has the Hugging Face [out, in]
    const [rows, cols] = moved.shape;
    const at = (i: number) => (isLinearWeight(name) ? ours[(i % rows) * cols + Math.floor(i / rows)] : ours[i]);
    let diff = 0;
    let norm = 0;
    const g = ref.data as Float32Array;
    for (let i = 0; i < g.length; i++) {
      diff += (at(i) - g[i]) ** 2;
      norm += g[i] ** 2;
    }
    assert.ok(Math.sqrt(diff / norm) < 1e-4, `${name}: relative gradient error ${Math.sqrt(diff / norm)}`);
    checked++;
  }
  assert.equal(checked, Object.keys(model.weights).length);
});
