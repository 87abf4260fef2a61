// The compiled SFT step's gradients equal transformers' autograd on a real (tiny, random) Llama:
// every weight, GQA attention, RoPE, left padding and the prompt mask included
// (fixture: scripts/make-gradient-fixture.py sft).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Runner } from '../../../engine/runner';
import { isLinearWeight, loadHFModel } from '../../../engine/model';
import { TrainProgram } from '../../../engine/programs/train';
import { loadPeftAdapter, peftKey } from '../../../engine/lora/lora';
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
    const ours = firstStepGradient(model.weights[name].data as Float32Array, moved.data as Float32Array, eps);
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

// The GRPO step of a LoRA policy: clipped surrogate (ratios inside and outside the clip range under
// positive and negative advantages), token-mean over every trained token of the batch, k3 KL to the
// same graph with the adapter off, at two sampling temperatures; the reference is PEFT + transformers
// autograd (fixture: scripts/make-gradient-fixture.py grpo).
let grpoWorst = 0;
after(() => console.log(`# GRPO loss vs PyTorch: worst relative gradient error ${grpoWorst.toExponential(2)}`));

test('the first GRPO step moves every LoRA tensor by the gradient PEFT computes', async () => {
  const dir = join(FIXTURES, 'llama-tiny');
  const model = await loadHFModel(dir);
  const adapter = await loadPeftAdapter(join(FIXTURES, 'llama-tiny-lora'), model.config);
  const { tensors } = await readSafetensors(join(dir, 'grpo-gradients.safetensors'));
  const fx = (name: string) => {
    const t = tensors.get(name);
    assert.ok(t, `fixture lacks ${name}`);
    return toTensorData(t, name);
  };
  const num = (name: string) => (fx(name).data as Float32Array)[0];
  const [B, T] = fx('tokens').shape;
  const tokens = fx('tokens').data as BigInt64Array;
  const mask = fx('mask').data as BigInt64Array;
  const promptLen = Array.from(fx('prompt_len').data as BigInt64Array, Number);
  const advantages = Array.from(fx('advantages').data as Float32Array);
  const clip = num('clip');
  let cases = 0;
  for (let c = 0; tensors.has(`c${c}.loss`); c++, cases++) {
    const p = `c${c}.`;
    const old = fx(`${p}old_logp`).data as Float32Array;
    const examples = promptLen.map((pl, b) => {
      const cols: number[] = [];
      for (let t = 0; t < T; t++) if (mask[b * T + t]) cols.push(t);
      const row = cols.map((t) => Number(tokens[b * T + t]));
      return {
        prompt: row.slice(0, pl),
        completion: row.slice(pl),
        advantage: advantages[b],
        oldLogprobs: cols.slice(pl).map((t) => old[b * T + t]),
      };
    });
    assert.equal(examples.length, B);
    // As for SFT: AdamW's first step with lr 1 and no decay or clipping gives back g = eps d / (1 - |d|).
    const eps = 10;
    const train = await TrainProgram.create(runner, model, {
      objective: 'grpo',
      lora: adapter.config,
      grpo: { clip, klCoef: num(`${p}kl_coef`), temperature: num(`${p}temperature`), reference: 'graph' },
      optimizer: { eps, weightDecay: 0 },
      clipNorm: 0,
      name: `grpo-vs-torch-${c}`,
    });
    await train.init(adapter.weights);
    const r = await train.step([examples], 1);
    for (const [ours, theirs] of [
      [r.losses[0], num(`${p}loss`)],
      [r.metrics.kl[0], num(`${p}kl`)],
      [r.metrics.clip_frac[0], num(`${p}clip_frac`)],
    ])
      assert.ok(Math.abs(ours - theirs) < 1e-5, `case ${c}: ${ours} vs PyTorch ${theirs}`);
    // the chosen log-ratios put tokens on both sides of the clip range, and some inside it
    assert.ok(r.metrics.clip_frac[0] > 0.2 && r.metrics.clip_frac[0] < 0.8);

    const updated = await train.params();
    let checked = 0;
    for (const [name, moved] of Object.entries(updated)) {
      const ours = firstStepGradient(adapter.weights[name].data as Float32Array, moved.data as Float32Array, eps);
      // engine LoRA tensors are A [in, r], B [r, out]; PEFT's are A [r, in], B [out, r]
      const module = name.slice(0, name.lastIndexOf('.lora_'));
      const ref = fx(`${p}grad.${peftKey(module, name.endsWith('lora_A') ? 'A' : 'B')}`);
      const [rows, cols] = moved.shape;
      assert.deepEqual(ref.shape, [cols, rows]);
      const g = ref.data as Float32Array;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < g.length; i++) {
        diff += (ours[(i % rows) * cols + Math.floor(i / rows)] - g[i]) ** 2;
        norm += g[i] ** 2;
      }
      const rel = Math.sqrt(diff / norm);
      assert.ok(norm > 0, `${name}: PyTorch's gradient is zero`);
      assert.ok(rel < 1e-4, `case ${c} ${name}: relative gradient error ${rel}`);
      grpoWorst = Math.max(grpoWorst, rel);
      checked++;
    }
    assert.equal(checked, 2 * 7 * model.config.numLayers);
  }
  assert.equal(cases, 2);
});

/**
 * The gradient behind a first AdamW step at learning rate 1 without decay: the step is
 * g / (|g| + eps) per element, so g = sign(step) eps |step| / (1 - |step|).
 */
function firstStepGradient(before: Float32Array, after: Float32Array, eps: number): Float32Array {
  return Float32Array.from(before, (x, i) => {
    const step = x - after[i];
    return (Math.sign(step) * eps * Math.abs(step)) / (1 - Math.abs(step));
  });
}
