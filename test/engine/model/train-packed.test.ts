import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Runner } from '../../../engine/runner';
import { makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../../../engine/model';
import { initLoraWeights, loraConfig } from '../../../engine/lora/lora';
import { type SftExample, TrainProgram, type TrainProgramOptions } from '../../../engine/programs/train';
import { lengthGroups, packedDims, packedFeeds, packedLayout } from '../../../engine/programs/packing';
import type { TensorData } from '../../../engine/graph';
import { TextTokenizer, byteLevelTokenizerFiles } from '../../../engine/tokenizer';
import { LengthGroupedBatches } from '../../../training/batches';
import { TEST_RECIPE, backboneConfig } from '../../../world/recipe';
import { makeWorld, pretrainItemAt } from '../../../world/world';
import { maxAbsDiff } from './helpers';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

const config = parseDecoderConfig(
  makeConfigJson({ vocabSize: 24, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }),
);
const weights = randomDecoderWeights(config, 5, 0.1);

/** Examples of very different lengths, as in the world's pretraining batches. */
function batch(seed: number, n: number): SftExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + ((i * 7 + seed * 5) % 17);
    const p = 1 + ((i + seed) % 4);
    const toks = Array.from({ length: len }, (_, j) => 1 + ((i * 11 + j * 5 + seed) % 23));
    return { prompt: toks.slice(0, p), target: toks.slice(p) };
  });
}

test('lengthGroups: runs of lengths sorted longest first minimising examples x longest^2, fewer runs on a tie', () => {
  // 10^2 * 1 + 3^2 * 3 = 127 in two runs, against 10^2 * 4 = 400 in one
  assert.deepEqual(lengthGroups([10, 3, 3, 3], 2), [1, 4]);
  assert.deepEqual(lengthGroups([4, 4, 4], 3), [3]);
  assert.deepEqual(lengthGroups([9, 8, 2, 1], 4), [1, 2, 3, 4]);
  assert.deepEqual(lengthGroups([5], 4), [1]);
});

test('packedLayout: a flat stream in input order, positions from 0 per example, blocks by length in causal chunks', () => {
  const items = [
    { tokens: [5, 6], firstTrained: 1 },
    { tokens: [1, 2, 3, 4, 5, 6, 7, 8], firstTrained: 6 },
  ];
  const l = packedLayout(items, 2, 2);
  assert.deepEqual(l.tokens, [5, 6, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(l.positions, [0, 1, 0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(l.pred, [0, 7, 8]);
  assert.deepEqual(l.target, [6, 7, 8]);
  // group 0 holds the long example (chunks of 4 queries), group 1 the short one (chunks of 1)
  assert.deepEqual(l.blocks, [
    { queries: [[2, 3, 4, 5]], keys: [[2, 3, 4, 5]] },
    { queries: [[6, 7, 8, 9]], keys: [[2, 3, 4, 5, 6, 7, 8, 9]] },
    { queries: [[0]], keys: [[0]] },
    { queries: [[1]], keys: [[0, 1]] },
  ]);
  assert.throws(() => packedLayout([{ tokens: [1, 2], firstTrained: 0 }], 1, 1), /prompt token/);
});

test('packedFeeds: padded sizes, query positions for the causal bias, and the inverse maps of every gather', () => {
  const items = [
    { tokens: [5, 6, 7], firstTrained: 1 },
    { tokens: [8, 9], firstTrained: 1 },
  ];
  const l = packedLayout(items, 1, 1);
  const d = packedDims([l, packedLayout([{ tokens: [1, 2, 3, 4], firstTrained: 2 }], 1, 1)]);
  assert.deepEqual(d, { rows: 5, trained: 3, blocks: [{ examples: 2, queries: 4, keys: 4 }] });
  const f = packedFeeds(l, d);
  assert.deepEqual(f.tokens, [5, 6, 7, 8, 9]);
  assert.deepEqual(f.pred, [0, 1, 3]);
  assert.deepEqual(f.pred_inv, [0, 1, 3, 2, 3]);
  assert.deepEqual(f.q_rows, [0, 1, 2, 0, 3, 4, 0, 0]);
  assert.deepEqual(f.q_inv, [0, 1, 2, 4, 5]);
  assert.deepEqual(f.k0, [0, 1, 2, 0, 3, 4, 0, 0]);
  assert.deepEqual(f.k_rows0, f.k0);
  assert.deepEqual(f.k_inv0, [0, 1, 2, 4, 5]);
  assert.deepEqual(f.out, [0, 1, 2, 4, 5]);
  assert.deepEqual(f.out_inv, [0, 1, 2, 5, 3, 4, 5, 5]);
  // each query's position in its example (it sees key slots 0..position), -1 for padding
  assert.deepEqual(f.qpos0, [0, 1, 2, -1, 0, 1, -1, -1]);
});

test('packedFeeds: the query gather and the per-chunk key gathers name every real slot once, padding never', () => {
  const items = [5, 2, 4, 1, 3].map((n, i) => ({
    tokens: Array.from({ length: n }, (_, j) => 10 * i + j),
    firstTrained: 1,
  }));
  const l = packedLayout(items, 2, 2);
  const d = packedDims([l]);
  const f = packedFeeds(l, d);
  const rows = l.tokens.length;
  const realQueries = l.blocks.flatMap((b) => b.queries.flat());
  assert.deepEqual(
    [...realQueries].sort((a, b) => a - b),
    [...Array(rows).keys()],
  ); // each row a query once
  for (let r = 0; r < rows; r++) assert.equal(f.q_rows[f.q_inv[r]], r);
  for (let c = 0; c < 2; c++) {
    const blocks = [c, c + 2];
    assert.deepEqual(f[`k_rows${c}`], [...f[`k${blocks[0]}`], ...f[`k${blocks[1]}`]]);
    const keys = new Set(blocks.flatMap((b) => l.blocks[b].keys.flat()));
    for (let r = 0; r < rows; r++) {
      const slot = f[`k_inv${c}`][r];
      if (keys.has(r)) assert.equal(f[`k_rows${c}`][slot], r, `chunk ${c} row ${r}`);
      else assert.equal(slot, f[`k_rows${c}`].length, `chunk ${c} row ${r} is no key`);
    }
  }
});

/** Losses and final parameters of the same steps with and without packing (one runner, state reset). */
async function bothWays(
  o: Omit<TrainProgramOptions, 'packed'>,
  steps: SftExample[][][] | SftExample[][],
  init: () => Record<string, TensorData>,
  model = { config, weights },
) {
  const out: { losses: number[]; tokens: number[]; params: Record<string, Float32Array> }[] = [];
  for (const packed of [false, true]) {
    const name = `sft-${model.config.modelType}-${o.lora ? 'lora' : 'full'}-${o.accumulate ? 'acc' : 'plain'}-${packed ? 'packed' : 'padded'}`;
    const p = await TrainProgram.create(runner, model, { ...o, packed, name });
    await p.init(init());
    const losses: number[] = [];
    const tokens: number[] = [];
    for (let run = 0; run < 2; run++) {
      const r = await p.step(steps, 2e-2);
      losses.push(...r.losses);
      tokens.push(...r.metrics.tokens);
    }
    const params = Object.fromEntries(Object.entries(await p.params()).map(([k, v]) => [k, v.data as Float32Array]));
    out.push({ losses, tokens, params });
    await runner.unload(name);
  }
  return out;
}

function assertSameTraining(padded: Awaited<ReturnType<typeof bothWays>>[0], packed: typeof padded) {
  assert.deepEqual(packed.tokens, padded.tokens);
  assert.ok(padded.losses[padded.losses.length - 1] < padded.losses[0] - 0.1, `padded losses ${padded.losses}`);
  assert.ok(maxAbsDiff(packed.losses, padded.losses) < 1e-4, `losses ${packed.losses} vs ${padded.losses}`);
  for (const [k, v] of Object.entries(padded.params))
    assert.ok(maxAbsDiff(packed.params[k], v) < 1e-4, `${k}: ${maxAbsDiff(packed.params[k], v)}`);
}

test('packed SFT trains exactly like the padded step (full fine-tuning, 3 steps per run)', async () => {
  const [padded, packed] = await bothWays({ objective: 'sft' }, [batch(0, 9), batch(1, 9), batch(2, 7)], () => weights);
  assertSameTraining(padded, packed);
});

test('packed SFT trains exactly like the padded step (Qwen2: q, k and v biases)', async () => {
  const qwen = parseDecoderConfig(
    makeConfigJson({
      vocabSize: 24,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      modelType: 'qwen2',
    }),
  );
  assert.ok(qwen.qkvBias);
  // biases and norm weights away from their zero and one starts, so both paths must apply them
  const w = Object.fromEntries(
    Object.entries(randomDecoderWeights(qwen, 6, 0.1)).map(([k, t]) =>
      /\.bias$|norm\.weight$/.test(k)
        ? [k, { ...t, data: Float32Array.from(t.data as Float32Array, (x, i) => x + 0.3 * Math.sin(i + k.length)) }]
        : [k, t],
    ),
  );
  const [padded, packed] = await bothWays({ objective: 'sft' }, [batch(7, 8), batch(8, 6)], () => w, {
    config: qwen,
    weights: w,
  });
  assertSameTraining(padded, packed);
});

test('packed SFT trains exactly like the padded step (LoRA, gradient accumulation)', async () => {
  const lora = loraConfig({ rank: 4, alpha: 8 });
  const steps = [
    [batch(3, 5), batch(4, 4)],
    [batch(5, 6), batch(6, 3)],
  ];
  const [padded, packed] = await bothWays({ objective: 'sft', lora, accumulate: true }, steps, () =>
    initLoraWeights(config, lora, 1),
  );
  assertSameTraining(padded, packed);
});

test('packed rows are refused for GRPO', async () => {
  await assert.rejects(
    TrainProgram.create(runner, { config, weights }, { objective: 'grpo', packed: true }),
    /SFT objective only/,
  );
});

test("on the test recipe's backbone and world pretraining batches, packed SFT trains to the padded step's loss", async (t) => {
  const c = parseDecoderConfig(backboneConfig(TEST_RECIPE.backbone));
  const w = randomDecoderWeights(c, TEST_RECIPE.seed + 1);
  const world = makeWorld(0);
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  const tok = new TextTokenizer(tokenizerJson, tokenizerConfig);
  const data = Array.from({ length: 96 }, (_, i): SftExample => {
    const it = pretrainItemAt(world, 0, i);
    return {
      prompt: tok.encode(`Problem:\n${it.question}\n\nAnswer:\n`),
      target: [...tok.encode(it.answer, { addSpecialTokens: false }), 258],
    };
  });
  const order = new LengthGroupedBatches(
    data.map((e) => e.prompt.length + e.target.length),
    TEST_RECIPE.pretrain.batchSize,
    0,
    1,
    TEST_RECIPE.pretrain.lengthBuckets,
  );
  const steps = Array.from({ length: 6 }, () => order.next().map((i) => data[i]));
  const losses: number[][] = [];
  for (const packed of [false, true]) {
    const p = await TrainProgram.create(
      runner,
      { config: c, weights: w },
      { objective: 'sft', packed, name: `world-${packed}` },
    );
    await p.init(w);
    const l: number[] = [];
    for (const s of steps) l.push(...(await p.step([s], 3e-3)).losses);
    losses.push(l);
    await runner.unload(`world-${packed}`);
  }
  t.diagnostic(`padded ${losses[0].map((x) => x.toFixed(4))} / packed ${losses[1].map((x) => x.toFixed(4))}`);
  assert.ok(losses[0][5] < losses[0][0] - 0.2, `the padded step learns: ${losses[0]}`);
  assert.ok(maxAbsDiff(losses[0], losses[1]) < 1e-3, `${losses[0]} vs ${losses[1]}`);
});
