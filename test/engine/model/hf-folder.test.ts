import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHFModel } from '../../../engine/model';
import { loadPeftAdapter, mergeLora } from '../../../engine/lora/lora';
import { f32ToBf16, saveHFFolder } from '../../../engine/hf-folder';
import { bf16ToF32 } from '../../../engine/safetensors';
import { FIXTURES, maxAbsDiff } from './helpers';

test('a fine-tuned (merged LoRA) model saves as a Hugging Face folder and loads back', async () => {
  const m = await loadHFModel(join(FIXTURES, 'llama-tiny'));
  const a = await loadPeftAdapter(join(FIXTURES, 'llama-tiny-lora'), m.config);
  const merged = mergeLora(m.config, m.weights, a.config, a.weights);
  const root = await mkdtemp(join(tmpdir(), 'hf-'));
  try {
    const dir = join(root, 'merged');
    await saveHFFolder(dir, m.config, merged, { tokenizer: m.tokenizer });
    const files = await readdir(dir);
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
    ])
      assert.ok(files.includes(f), f);
    const back = await loadHFModel(dir);
    for (const [k, v] of Object.entries(merged)) assert.deepEqual(back.weights[k].data, v.data, k);
    assert.deepEqual(back.tokenizer!.encode('Hello world'), m.tokenizer!.encode('Hello world'));
    await assert.rejects(saveHFFolder(dir, m.config, merged), /already exists/);
    // BF16, sharded.
    const q = await loadHFModel(join(FIXTURES, 'qwen2-tiny'));
    const dq = join(root, 'qwen');
    await saveHFFolder(dq, q.config, q.weights, { dtype: 'bfloat16', maxShardBytes: 20_000 });
    assert.ok((await readdir(dq)).includes('model.safetensors.index.json'));
    const qb = await loadHFModel(dq);
    // The fixture was stored as BF16, so the round trip is exact.
    for (const [k, v] of Object.entries(q.weights))
      assert.equal(maxAbsDiff(qb.weights[k].data as Float32Array, v.data as Float32Array), 0, k);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('float32 to bfloat16 rounds to nearest even', () => {
  const x = Float32Array.of(1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 3.14159, 0);
  const back = bf16ToF32(f32ToBf16(x));
  assert.deepEqual(Array.from(back.slice(0, 2)), [1, -2.5]);
  assert.equal(back[2], 1); // tie -> even
  assert.equal(back[3], 1 + 2 ** -7);
  assert.ok(Math.abs(back[4] - 3.14159) < 0.01);
});
