import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Runner } from '../../../engine/runner';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../../../engine/model';
import { initLoraWeights, loraConfig } from '../../../engine/lora/lora';
import { GenerateProgram } from '../../../engine/programs/generate';
import { ScoreProgram } from '../../../engine/programs/score';
import { type GrpoExample, TrainProgram } from '../../../engine/programs/train';
import { maxAbsDiff } from './helpers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrainerState, saveTrainerState } from '../../../engine/trainer-state';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

function tinyModel(vocab: number, seed: number, std = 0.1) {
  const config = parseDecoderConfig(
    makeConfigJson({
      vocabSize: vocab,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
    }),
  );
  return { config, weights: randomDecoderWeights(config, seed, std) };
}

const examples = [
  { prompt: [1, 2], target: [7, 8, 9, 3] },
  { prompt: [1, 4, 5], target: [10, 11, 3] },
  { prompt: [2], target: [12, 13, 14, 15, 3] },
  { prompt: [6, 6, 6], target: [9, 7, 3] },
];

test('SFT (full fine-tuning) drives the loss on a handful of examples near zero', async (t) => {
  const m = tinyModel(20, 1);
  const train = await TrainProgram.create(runner, m, { objective: 'sft', name: 'sft-full' });
  await train.init(m.weights);
  const losses: number[] = [];
  for (let run = 0; run < 6; run++) {
    const r = await train.step([examples, examples, examples, examples, examples], 1e-2);
    losses.push(...r.losses);
  }
  t.diagnostic(
    `SFT full: loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(4)} in ${losses.length} steps`,
  );
  assert.ok(losses[0] > 2);
  assert.ok(losses[losses.length - 1] < 0.05, `final loss ${losses[losses.length - 1]}`);
  // The weights score and generate read from the runner's state are the trained ones.
  const score = await ScoreProgram.create(runner, m, { weightsFromState: true, name: 'score-state' });
  const s = await score.score(examples);
  const nll = -s.logprobs.flatMap((x) => Array.from(x)).reduce((a, b) => a + b, 0) / 15;
  assert.ok(nll < 0.05, `score on trained weights: ${nll}`);
});

test('SFT with LoRA drives the loss near zero', async (t) => {
  // Larger base weights: LoRA cannot retune the frozen norms and head, which bound the logits.
  const m = tinyModel(20, 2, 0.5);
  const lora = loraConfig({ rank: 8, alpha: 16 });
  const train = await TrainProgram.create(runner, m, { objective: 'sft', lora, name: 'sft-lora' });
  await train.init(initLoraWeights(m.config, lora, 1));
  const losses: number[] = [];
  for (let run = 0; run < 6; run++)
    losses.push(...(await train.step([examples, examples, examples, examples, examples], 1e-2)).losses);
  t.diagnostic(
    `SFT LoRA: loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(4)} in ${losses.length} steps`,
  );
  assert.ok(losses[losses.length - 1] < 0.1, `final loss ${losses[losses.length - 1]}`);
});

test('GRPO with a rule-based reward raises the mean reward over steps (LoRA, KL to the adapter-off reference)', async (t) => {
  const m = tinyModel(12, 3);
  const lora = loraConfig({ rank: 8, alpha: 16 });
  const temperature = 1;
  const train = await TrainProgram.create(runner, m, {
    objective: 'grpo',
    lora,
    grpo: { clip: 0.2, klCoef: 0.001, temperature },
    name: 'grpo-lora',
  });
  await train.init(initLoraWeights(m.config, lora, 1));
  const gen = await GenerateProgram.create(runner, m, { lora, eos: [], name: 'gen-grpo' });
  const prompts = [[1, 2], [3], [4, 5, 6]];
  const K = 8;
  const target = 7; // reward: fraction of sampled tokens equal to 7
  const rewards: number[] = [];
  for (let step = 0; step < 14; step++) {
    const reqs = prompts.flatMap((p, i) =>
      Array.from({ length: K }, (_, k) => ({ id: `p${i}-s${step}-k${k}`, prompt: p })),
    );
    const outs = await gen.generate(reqs, { maxNewTokens: 6, temperature, seed: step });
    const r = outs.map((o) => o.tokens.filter((x) => x === target).length / o.tokens.length);
    rewards.push(r.reduce((a, b) => a + b, 0) / r.length);
    const batch: GrpoExample[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const g = r.slice(i * K, (i + 1) * K);
      const mean = g.reduce((a, b) => a + b, 0) / K;
      const std = Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / (K - 1));
      for (let k = 0; k < K; k++) {
        const o = outs[i * K + k];
        batch.push({
          prompt: prompts[i],
          completion: o.tokens,
          oldLogprobs: o.logprobs,
          advantage: (g[k] - mean) / (std + 1e-6),
        });
      }
    }
    const res = await train.step([batch], 5e-2);
    if (step === 0) {
      // The first step's policy is the rollout policy and the reference (B = 0): ratio 1, KL 0.
      assert.ok(Math.abs(res.metrics.kl[0]) < 1e-6, `kl ${res.metrics.kl[0]}`);
      assert.equal(res.metrics.clip_frac[0], 0);
    }
  }
  const first = rewards.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = rewards.slice(-3).reduce((a, b) => a + b) / 3;
  t.diagnostic(`GRPO mean reward ${rewards.map((x) => x.toFixed(2)).join(' ')}`);
  assert.ok(last > first + 0.2, `mean reward ${first.toFixed(3)} -> ${last.toFixed(3)}`);
});

test('gradient accumulation: two identical micro-batches give the single-batch step; lr per step', async () => {
  const m = tinyModel(20, 5);
  const a = await TrainProgram.create(runner, m, { objective: 'sft', name: 'sft-a', lrPerStep: true });
  await a.init(m.weights);
  await a.step([examples, examples], [1e-2, 5e-3]);
  const pa = await a.params();
  const b = await TrainProgram.create(runner, m, {
    objective: 'sft',
    name: 'sft-b',
    accumulate: true,
    lrPerStep: true,
  });
  await b.init(m.weights);
  const r = await b.step(
    [
      [examples, examples],
      [examples, examples],
    ],
    [1e-2, 5e-3],
  );
  assert.equal(r.losses.length, 2);
  const pb = await b.params();
  let d = 0;
  for (const k of Object.keys(pa)) d = Math.max(d, maxAbsDiff(pa[k].data as Float32Array, pb[k].data as Float32Array));
  assert.ok(d < 1e-5, `max |param diff| ${d}`);
});

test('GRPO with full fine-tuning takes the reference log-probs as input', async () => {
  const m = tinyModel(12, 6);
  const train = await TrainProgram.create(runner, m, { objective: 'grpo', grpo: { klCoef: 0.01 }, name: 'grpo-full' });
  await train.init(m.weights);
  const score = await ScoreProgram.create(runner, m, { name: 'score-ref' });
  const ex = [
    { prompt: [1, 2], completion: [3, 4, 5], advantage: 1 },
    { prompt: [6], completion: [7, 8], advantage: -1 },
  ];
  const s = await score.score(ex.map((e) => ({ prompt: e.prompt, target: e.completion })));
  const batch: GrpoExample[] = ex.map((e, i) => ({
    ...e,
    oldLogprobs: Array.from(s.logprobs[i]),
    refLogprobs: Array.from(s.logprobs[i]),
  }));
  const r = await train.step([batch, batch], 1e-2);
  assert.ok(Math.abs(r.metrics.kl[0]) < 1e-6);
  assert.ok(r.metrics.kl[1] > 0, 'after one update the policy moved away from the reference');
  await assert.rejects(train.step([[{ ...batch[0], refLogprobs: undefined }]], 1e-2), /refLogprobs/);
});

test('checkpoint and resume through the trainer state file continue bit-exactly', async () => {
  const m = tinyModel(20, 7);
  const lora = loraConfig({ rank: 4, alpha: 8 });
  const a = await TrainProgram.create(runner, m, { objective: 'sft', lora, name: 'resume' });
  await a.init(initLoraWeights(m.config, lora, 2));
  for (let i = 0; i < 4; i++) await a.step([examples], 1e-2);
  const straight = await a.params();
  await a.init(initLoraWeights(m.config, lora, 2));
  for (let i = 0; i < 2; i++) await a.step([examples], 1e-2);
  const dir = await mkdtemp(join(tmpdir(), 'resume-'));
  try {
    const path = join(dir, 'state.safetensors');
    await saveTrainerState(path, {
      tensors: await a.stateTensors(),
      dataPosition: { epoch: 0, index: 2 },
      rng: [1, 2, 3, 4],
    });
    await runner.dropState();
    const loaded = await loadTrainerState(path);
    await a.restoreState(loaded.tensors);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  for (let i = 0; i < 2; i++) await a.step([examples], 1e-2);
  const resumed = await a.params();
  for (const k of Object.keys(straight)) assert.deepEqual(resumed[k].data, straight[k].data, k);
});

test('the SFT loss before the first update equals the token-mean NLL the score program gives', async () => {
  const m = tinyModel(20, 8);
  const train = await TrainProgram.create(runner, m, { objective: 'sft', name: 'sft-nll' });
  await train.init(m.weights);
  const r = await train.step([examples], 1e-3);
  const score = await ScoreProgram.create(runner, m, { name: 'score-nll' });
  const s = await score.score(examples);
  const all = s.logprobs.flatMap((x) => Array.from(x));
  const nll = -all.reduce((a, b) => a + b, 0) / all.length;
  assert.ok(Math.abs(r.losses[0] - nll) < 1e-4, `${r.losses[0]} vs ${nll}`);
});
