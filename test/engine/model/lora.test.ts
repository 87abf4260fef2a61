import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeModel } from '../../../engine/onnx';
import { createSession, runSession } from '../../../engine/runner';
import { loadHFModel } from '../../../engine/model';
import {
  initLoraWeights,
  loadPeftAdapter,
  loraConfig,
  loraModules,
  mergeLora,
  savePeftAdapter,
} from '../../../engine/lora/lora';
import { buildForwardProgram } from '../../../engine/programs/forward';
import { FIXTURES, expected, maxAbsDiff, toF32Mask } from './helpers';

test('PEFT adapter: save and load round trip; merged weights give the adapted logits', async () => {
  const m = await loadHFModel(join(FIXTURES, 'llama-tiny'));
  const a = await loadPeftAdapter(join(FIXTURES, 'llama-tiny-lora'), m.config);
  const dir = await mkdtemp(join(tmpdir(), 'lora-'));
  try {
    await savePeftAdapter(dir, m.config, a.config, a.weights, { baseModel: 'llama-tiny' });
    const b = await loadPeftAdapter(dir, m.config);
    assert.equal(b.config.rank, 4);
    assert.equal(b.config.alpha, 8);
    for (const [k, v] of Object.entries(a.weights)) assert.deepEqual(b.weights[k].data, v.data, k);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const ex = await expected('llama-tiny-lora');
  const merged = mergeLora(m.config, m.weights, a.config, a.weights);
  const s = await createSession(serializeModel(buildForwardProgram(m.config, merged)));
  const mask = toF32Mask(ex.attention_mask);
  const out = await runSession(s, { tokens: ex.input_ids, mask });
  const mk = mask.data as Float32Array;
  const V = m.config.vocabSize;
  const d = maxAbsDiff(
    out.logits.data as Float32Array,
    ex.logits.data as Float32Array,
    (i) => mk[Math.floor(i / V)] === 1,
  );
  assert.ok(d < 1e-4, `merged: ${d}`);
  await s.release();
});

test('LoRA initialisation as PEFT: A uniform within 1/sqrt(in), B zero; target modules selectable', async () => {
  const m = await loadHFModel(join(FIXTURES, 'qwen2-tiny'));
  const l = loraConfig({ rank: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'] });
  assert.equal(loraModules(m.config, l).length, 2 * m.config.numLayers);
  const w = initLoraWeights(m.config, l, 1);
  const a = w['model.layers.0.self_attn.q_proj.lora_A'];
  assert.deepEqual(a.shape, [48, 2]);
  const bound = 1 / Math.sqrt(48);
  assert.ok(
    Array.from(a.data as Float32Array).every((x) => Math.abs(x) <= bound) &&
      (a.data as Float32Array).some((x) => x !== 0),
  );
  assert.ok(Array.from(w['model.layers.1.self_attn.v_proj.lora_B'].data as Float32Array).every((x) => x === 0));
  assert.throws(() => loraModules(m.config, loraConfig({ rank: 2, targetModules: ['nope'] })), /match no linear layer/);
});
