// DeviceSession.policy: a base model served with an unmerged LoRA adapter that changes without a
// compile, against the merged path, on the tiny Llama fixture.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { DeviceSession } from '../activities/device/session';
import { initLoraWeights, loraConfig, savePeftAdapter, type LoraWeights } from '../engine/lora';
import { Rng } from '../engine/rng';
import { putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1, 4);
after(() => session.close());

const lora = loraConfig({ rank: 4, alpha: 8 });

/** An adapter that changes the model: PEFT's A, and a B that is not zero. */
function adapter(config: Parameters<typeof initLoraWeights>[0], seed: number): LoraWeights {
  const w = initLoraWeights(config, lora, seed);
  const rng = new Rng(seed + 1);
  for (const [name, t] of Object.entries(w))
    if (name.endsWith('lora_B')) for (let i = 0; i < t.data.length; i++) t.data[i] = (rng.float() - 0.5) * 0.5;
  return w;
}

function close(a: Float32Array[], b: Float32Array[], tol = 2e-4): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[i][j])))));
  assert.ok(worst < tol, `largest log-prob difference ${worst}`);
  return worst;
}

test('the unmerged adapter scores and generates as the merged one; off, as the base; a new one needs no compile', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const base = { uri: await putTinyModel(root) };
  const policy = await session.policy(store, base, lora);
  const { config, tokenizer } = policy.loaded.model;
  assert.equal(policy.adapterKey(), undefined, 'a fresh runner holds no adapter');
  const refs: string[] = [];
  for (const seed of [1, 2]) {
    refs.push(`artifact://adapters/a${seed}`);
    await savePeftAdapter(store.resolve(refs.at(-1)!), config, lora, adapter(config, seed));
  }
  const items = ['what is 1 plus 2', 'say hello', 'reverse abc'].map((q, i) => ({
    prompt: tokenizer!.encode(`Problem:\n${q}\n\nAnswer:\n`),
    target: tokenizer!.encode(`it is ${i}`, { addSpecialTokens: false }),
  }));
  const requests = items.map((it, i) => ({ id: `r${i}`, prompt: it.prompt }));
  const greedy = { maxNewTokens: 8, temperature: 0 };

  const first = await policy.useAdapter(store, refs[0]);
  assert.equal(first.loaded, true);
  assert.equal(first.key, await session.adapterKey(store, refs[0]));
  assert.equal(policy.adapterKey(), first.key);
  assert.deepEqual(await policy.useAdapter(store, refs[0]), { key: first.key, loaded: false }, 'already set');

  for (const ref of refs) {
    await policy.useAdapter(store, ref);
    const merged = { uri: base.uri, adapter: ref };
    close(
      (await policy.scorer.score(items)).logprobs,
      (await (await session.scorer(store, merged)).program.score(items)).logprobs,
    );
    assert.deepEqual(
      (await policy.generator.generate(requests, greedy)).map((g) => g.tokens),
      (await (await session.generator(store, merged)).program.generate(requests, greedy)).map((g) => g.tokens),
    );
  }
  // the reference policy: the same programs with the adapter switched off are the base model
  close(
    (await policy.scorer.score(items, { adapter: false })).logprobs,
    (await (await session.scorer(store, base)).program.score(items)).logprobs,
    1e-5,
  );
  const again = await session.policy(store, base, lora);
  assert.equal(again.generator, policy.generator, 'one compile per base model and LoRA config');
  assert.equal(again.scorer, policy.scorer);
  assert.equal(again.adapterKey(), await session.adapterKey(store, refs[1]));
});

test('a LoRA train program on the policy updates what its generate and score programs read', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const base = { uri: await putTinyModel(root, 'models/base-2') };
  const policy = await session.policy(store, base, lora);
  const { config, tokenizer } = policy.loaded.model;
  const items = [{ prompt: tokenizer!.encode('Problem:\nx\n\nAnswer:\n'), target: tokenizer!.encode('y z') }];
  await policy.setAdapter(adapter(config, 7), 'seven');
  assert.equal(policy.adapterKey(), 'seven');
  const trainer = await policy.trainer({ objective: 'sft' });
  await trainer.init(adapter(config, 7));
  assert.equal(policy.adapterKey(), undefined, 'the train program took the state over');
  const before = (await policy.scorer.score(items)).logprobs;
  await trainer.step([[{ prompt: items[0].prompt, target: items[0].target }]], 0.05);
  const after = (await policy.scorer.score(items)).logprobs;
  assert.ok(
    after[0].some((x, j) => Math.abs(x - before[0][j]) > 1e-4),
    'the step changed what the score program reads',
  );
  await policy.setAdapter(await trainer.params(), 'trained');
  close((await policy.scorer.score(items)).logprobs, after, 1e-7);
  policy.markAdapter('saved');
  assert.equal(policy.adapterKey(), 'saved');
});
