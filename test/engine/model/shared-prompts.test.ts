import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Runner } from '../../../engine/runner';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../../../engine/model';
import { initLoraWeights, loraConfig } from '../../../engine/lora/lora';
import { type GrpoExample, TrainProgram, type TrainProgramOptions } from '../../../engine/programs/train';
import { ScoreProgram } from '../../../engine/programs/score';
import { GenerateProgram } from '../../../engine/programs/generate';
import { maxAbsDiff } from './helpers';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

const config = parseDecoderConfig(
  makeConfigJson({ vocabSize: 23, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }),
);
const model = { config, weights: randomDecoderWeights(config, 4, 0.3) };
const lora = loraConfig({ rank: 4, alpha: 8 });

// GRPO's K samples of one prompt share it: the train step, the score and the generate programs run
// each distinct prompt once. Each is checked against the program that runs every row in full.

// Three prompts of different lengths, K = 4 completions each of different lengths, in an order that
// interleaves the groups (the shared step regroups them).
function examples(seed: number): GrpoExample[] {
  const prompts = [
    [1, 2, 3, 4, 5, 6, 7],
    [8, 9],
    [10, 11, 12, 13],
  ];
  const out: GrpoExample[] = [];
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31);
  for (let k = 0; k < 4; k++)
    prompts.forEach((prompt, p) => {
      const n = 1 + ((p + 2 * k + seed) % 5);
      const completion = Array.from({ length: n }, () => 1 + (next() % 22));
      out.push({
        prompt,
        completion,
        advantage: (next() % 200) / 100 - 1,
        oldLogprobs: completion.map(() => -1 - (next() % 100) / 100),
      });
    });
  return out;
}

async function run(o: Partial<TrainProgramOptions>, name: string, steps: (GrpoExample[] | GrpoExample[][])[][]) {
  const t = await TrainProgram.create(runner, model, {
    objective: 'grpo',
    lora,
    grpo: { klCoef: 0.05, temperature: 0.8, ...o.grpo },
    accumulate: o.accumulate,
    name,
  });
  await t.init(initLoraWeights(config, lora, 3));
  const results = [];
  for (const s of steps) results.push(await t.step(s, 5e-2));
  return { results, params: await t.params() };
}

function assertSame(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>) {
  a.results.forEach((r, i) => {
    const q = b.results[i];
    assert.ok(maxAbsDiff(r.losses, q.losses) < 1e-5, `step ${i}: loss ${r.losses} vs ${q.losses}`);
    assert.ok(maxAbsDiff(r.gradNorms!, q.gradNorms!) < 1e-5, `step ${i}: grad norm ${r.gradNorms} vs ${q.gradNorms}`);
    const kl = maxAbsDiff(r.metrics.kl, q.metrics.kl) / Math.max(1, Math.abs(r.metrics.kl[0]));
    assert.ok(kl < 1e-5, `step ${i}: kl ${r.metrics.kl} vs ${q.metrics.kl}`);
  });
  for (const [name, p] of Object.entries(a.params))
    assert.ok(maxAbsDiff(p.data as Float32Array, b.params[name].data as Float32Array) < 1e-5, name);
}

test('GRPO with shared prompts computes the padded step: same loss, gradient norm, KL and adapter after 3 steps', async () => {
  const steps = [[examples(1)], [examples(2)], [examples(3)]];
  const plain = await run({}, 'grpo-plain', steps);
  const shared = await run({ grpo: { sharedPrompts: true } }, 'grpo-shared', steps);
  assert.ok(plain.results[2].losses[0] !== 0);
  assertSame(plain, shared);
});

test('shared prompts with gradient accumulation: micro-batches with fewer groups are filled and change nothing', async () => {
  const e = examples(5);
  const byPrompt = (p: number) => e.filter((x) => x.prompt === e[p].prompt);
  // two micro-batches: two groups, then one group
  const micro = [[...byPrompt(0), ...byPrompt(1)], byPrompt(2)];
  const plain = await run({ accumulate: true }, 'grpo-plain-acc', [[micro]]);
  const shared = await run({ accumulate: true, grpo: { sharedPrompts: true } }, 'grpo-shared-acc', [[micro]]);
  assertSame(plain, shared);
});

test('shared prompts refuse groups of different sizes, naming the rule', async () => {
  const t = await TrainProgram.create(runner, model, {
    objective: 'grpo',
    lora,
    grpo: { sharedPrompts: true },
    name: 'grpo-shared-bad',
  });
  await t.init(initLoraWeights(config, lora, 3));
  await assert.rejects(t.step([examples(1).slice(0, 5)], 1e-2), /same number of completions/);
});

test('score over repeated prompts (each prompt run once) gives the log-probs and embeddings of scoring each item alone', async () => {
  const scorer = await ScoreProgram.create(runner, model, { lora, name: 'score-shared-check' });
  await run({}, 'grpo-for-score', [[examples(1)]]); // a trained (non-zero) adapter in the runner's state
  const items = examples(7).map((e) => ({ prompt: e.prompt, target: e.completion }));
  for (const o of [{ temperature: 0.7 }, { adapter: false }]) {
    const together = await scorer.score(items, o);
    for (const [i, it] of items.entries()) {
      const alone = await scorer.score([it], o); // one item: nothing shared, the plain program
      assert.ok(maxAbsDiff(together.logprobs[i], alone.logprobs[0]) < 1e-5, `item ${i} log-probs`);
      assert.ok(maxAbsDiff(together.embeddings[i], alone.embeddings[0]) < 1e-5, `item ${i} embedding`);
    }
  }
});

test('generate prefills a repeated prompt once: every row samples what it samples alone', async () => {
  await run({}, 'grpo-for-gen', [[examples(2)]]); // a trained (non-zero) adapter in the runner's state
  const gen = await GenerateProgram.create(runner, model, { lora, eos: [], name: 'gen-shared-check' });
  const prompts = [
    [1, 2, 3, 4, 5, 6, 7],
    [8, 9],
  ];
  const reqs = [0, 1, 0, 0, 1].map((p, i) => ({ id: `r${i}`, prompt: prompts[p] }));
  const o = { maxNewTokens: 6, temperature: 0.9, seed: 4 };
  const together = await gen.run(reqs, o);
  for (const [i, r] of reqs.entries()) {
    const alone = await gen.run([r], o);
    assert.deepEqual(together.tokens[i], alone.tokens[0], `row ${i} tokens`);
    assert.ok(maxAbsDiff(together.logprobs[i], alone.logprobs[0]) < 1e-5, `row ${i} log-probs`);
  }
});
