import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeModel } from '../../../engine/onnx';
import { createSession, runSession } from '../../../engine/runner';
import { checkSequenceLength, parseDecoderConfig } from '../../../engine/model/config';
import { ropeInverseFrequencies } from '../../../engine/model/decoder';
import { loadDecoderWeights } from '../../../engine/model/weights';
import { loadPeftAdapter } from '../../../engine/lora/lora';
import { buildForwardProgram } from '../../../engine/programs/forward';
import { FIXTURES, expected, maxAbsDiff, toF32Mask } from './helpers';

async function check(t: { diagnostic: (m: string) => void }, dir: string, model: string, adapter?: string) {
  const root = join(FIXTURES, model);
  const config = parseDecoderConfig(JSON.parse(await readFile(join(root, 'config.json'), 'utf8')));
  const weights = await loadDecoderWeights(root, config);
  const ex = await expected(dir);
  let lora;
  let feeds = {};
  if (adapter) {
    const a = await loadPeftAdapter(join(FIXTURES, adapter), config);
    lora = a.config;
    feeds = Object.fromEntries(Object.entries(a.weights).map(([k, v]) => [`param.${k}`, v]));
  }
  const s = await createSession(serializeModel(buildForwardProgram(config, weights, { lora })));
  const mask = toF32Mask(ex.attention_mask);
  const out = await runSession(s, { ...feeds, tokens: ex.input_ids, mask });
  const m = mask.data as Float32Array;
  const V = config.vocabSize;
  const H = config.hiddenSize;
  // Positions derived in the graph from the left-padding mask must give HF's logits on real tokens.
  const dLogits = maxAbsDiff(
    out.logits.data as Float32Array,
    ex.logits.data as Float32Array,
    (i) => m[Math.floor(i / V)] === 1,
  );
  const dHidden = maxAbsDiff(
    out.hidden.data as Float32Array,
    ex.last_hidden.data as Float32Array,
    (i) => m[Math.floor(i / H)] === 1,
  );
  assert.ok(dLogits < 1e-4, `${dir}: max |logit diff| ${dLogits}`);
  assert.ok(dHidden < 1e-4, `${dir}: max |hidden diff| ${dHidden}`);
  await s.release();
  let unscaled = 0;
  if (config.ropeScaling) {
    const s2 = await createSession(serializeModel(buildForwardProgram({ ...config, ropeScaling: undefined }, weights)));
    const o2 = await runSession(s2, { tokens: ex.input_ids, mask });
    unscaled = maxAbsDiff(
      o2.logits.data as Float32Array,
      ex.logits.data as Float32Array,
      (i) => m[Math.floor(i / V)] === 1,
    );
    await s2.release();
  }
  t.diagnostic(`${dir}: max |logit diff| ${dLogits.toExponential(2)}, max |hidden diff| ${dHidden.toExponential(2)}`);
  return { unscaled };
}

test('llama (float32, untied, GQA) matches transformers logits on a left-padded batch', async (t) => {
  await check(t, 'llama-tiny', 'llama-tiny');
});

test('llama stored as F16 matches', async (t) => {
  await check(t, 'llama-tiny-f16', 'llama-tiny-f16');
});

test('qwen2 (QKV bias, tied, BF16, sharded) matches', async (t) => {
  await check(t, 'qwen2-tiny', 'qwen2-tiny');
});

test('mistral (sliding window longer than the inputs) matches', async (t) => {
  await check(t, 'mistral-tiny', 'mistral-tiny');
});

test('llama3 RoPE scaling matches; without it the logits differ', async (t) => {
  const d = await check(t, 'llama3-rope-tiny', 'llama3-rope-tiny');
  assert.ok(d.unscaled > 1e-3, `the scaling matters here (${d.unscaled})`);
});

test('PEFT LoRA adapter loads and matches peft outputs', async (t) => {
  await check(t, 'llama-tiny-lora', 'llama-tiny', 'llama-tiny-lora');
});

test('linear RoPE scaling divides the frequencies', () => {
  const base = {
    model_type: 'llama',
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 1,
  };
  const plain = ropeInverseFrequencies(parseDecoderConfig(base));
  const lin = ropeInverseFrequencies(parseDecoderConfig({ ...base, rope_scaling: { type: 'linear', factor: 4 } }));
  plain.forEach((f, i) => assert.ok(Math.abs(lin[i] - f / 4) < 1e-9));
});

test('unimplemented config fields are clear errors', () => {
  const base = {
    model_type: 'llama',
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  };
  assert.throws(
    () => parseDecoderConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    /rope_scaling.rope_type "yarn" is not implemented/,
  );
  assert.throws(
    () => parseDecoderConfig({ ...base, rope_parameters: { rope_type: 'dynamic', factor: 2 } }),
    /rope_type "dynamic"/,
  );
  assert.throws(
    () => parseDecoderConfig({ ...base, model_type: 'qwen2', use_sliding_window: true }),
    /sliding-window attention is not implemented/,
  );
  assert.throws(() => parseDecoderConfig({ ...base, model_type: 'gpt2' }), /model_type "gpt2" is not supported/);
  assert.throws(() => parseDecoderConfig({ ...base, hidden_act: 'gelu' }), /hidden_act "gelu"/);
  assert.throws(() => parseDecoderConfig({ ...base, num_key_value_heads: 3 }), /not a multiple/);
  const mistral = parseDecoderConfig({ ...base, model_type: 'mistral', sliding_window: 64 });
  assert.equal(mistral.slidingWindow, 64);
  assert.throws(
    () => parseDecoderConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }),
    /low_freq_factor must be a positive number/,
  );
  assert.throws(() => checkSequenceLength(mistral, 65), /exceed sliding_window 64/);
  assert.equal(
    parseDecoderConfig({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 500 } }).ropeTheta,
    500,
  );
});
