import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serializeModel } from '../../../engine/onnx';
import { Runner, createSession, runSession } from '../../../engine/runner';
import {
  type HFModel,
  loadHFModel,
  parseDecoderConfig,
  makeConfigJson,
  randomDecoderWeights,
} from '../../../engine/model';
import { loadPeftAdapter } from '../../../engine/lora/lora';
import { TextTokenizer, byteLevelTokenizerFiles } from '../../../engine/tokenizer';
import { buildForwardProgram } from '../../../engine/programs/forward';
import { ScoreProgram } from '../../../engine/programs/score';
import { GenerateProgram, TOP_P_CANDIDATES, finishRow, sampleToken } from '../../../engine/programs/generate';
import { Graph } from '../../../engine/graph';
import { padBatch } from '../../../engine/programs/common';
import { FIXTURES, maxAbsDiff } from './helpers';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

let llama: HFModel;
let gen: GenerateProgram;
let score: ScoreProgram;
const prompts = [
  { id: 'a', prompt: [5, 17, 33, 101, 7, 250, 12] },
  { id: 'b', prompt: [44, 9] },
  { id: 'c', prompt: [300, 301, 2 + 100, 77, 8] },
];

async function setup() {
  if (llama) return;
  llama = await loadHFModel(join(FIXTURES, 'llama-tiny'));
  gen = await GenerateProgram.create(runner, llama, { eos: [2] });
  score = await ScoreProgram.create(runner, llama);
}

test('score log-probs equal the log-probs generate returns for the same tokens (sampling, top-p)', async (t) => {
  await setup();
  let worst = 0;
  for (const [temperature, topP] of [
    [0.7, 0.9],
    [1, 1],
    [0, 1],
  ]) {
    const out = await gen.generate(prompts, { maxNewTokens: 12, temperature, topP, seed: 3, eos: [] });
    const s = await score.score(
      prompts.map((p, i) => ({ prompt: p.prompt, target: out[i].tokens })),
      { temperature: temperature || 1 },
    );
    for (let i = 0; i < prompts.length; i++) {
      assert.equal(out[i].tokens.length, 12);
      const d = maxAbsDiff(s.logprobs[i], out[i].logprobs);
      worst = Math.max(worst, d);
      assert.ok(d < 1e-4, `T=${temperature} top_p=${topP} row ${i}: |score - generate| = ${d}`);
    }
  }
  t.diagnostic(`max |score - generate| log-prob difference: ${worst.toExponential(2)}`);
});

test('cached greedy decoding equals a full recompute', async () => {
  await setup();
  const out = await gen.generate(prompts, { maxNewTokens: 10, temperature: 0, eos: [] });
  const s = await createSession(serializeModel(buildForwardProgram(llama.config, llama.weights)));
  const rows = prompts.map((p, i) => [...p.prompt, ...out[i].tokens]);
  const b = padBatch(rows, 'left');
  const r = await runSession(s, { tokens: b.tokens, mask: b.mask });
  const logits = r.logits.data as Float32Array;
  const V = llama.config.vocabSize;
  const T = b.width;
  rows.forEach((row, i) => {
    const n = prompts[i].prompt.length;
    for (let j = n; j < row.length; j++) {
      const at = (i * T + b.offsets[i] + j - 1) * V;
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[at + v] > logits[at + best]) best = v;
      assert.equal(best, row[j], `row ${i} token ${j - n}`);
    }
  });
  await s.release();
});

test('same seed: identical generations across runs and batchings; another seed differs', async () => {
  await setup();
  const o = { maxNewTokens: 16, temperature: 1, topP: 0.95, seed: 11, eos: [] };
  const all = await gen.generate(prompts, o);
  const again = await gen.generate(prompts, o);
  assert.deepEqual(again, all);
  const reversed = await gen.generate([...prompts].reverse(), o);
  assert.deepEqual(
    [...reversed].reverse().map((g) => g.tokens),
    all.map((g) => g.tokens),
  );
  for (let i = 0; i < prompts.length; i++) {
    const alone = await gen.generate([prompts[i]], o);
    assert.deepEqual(alone[0].tokens, all[i].tokens, `record ${prompts[i].id} alone`);
  }
  const other = await gen.generate(prompts, { ...o, seed: 12 });
  assert.notDeepEqual(
    other.map((g) => g.tokens),
    all.map((g) => g.tokens),
  );
});

test('EOS ends a row; the loop stops when every row is done', async () => {
  await setup();
  const free = await gen.generate(prompts, { maxNewTokens: 12, temperature: 0, eos: [] });
  // Declare the 4th greedy token of row 0 an EOS: row 0 stops there, with it included.
  const e = free[0].tokens[3];
  const cut = await gen.generate(prompts, { maxNewTokens: 12, temperature: 0, eos: [e] });
  const k = free[0].tokens.indexOf(e);
  assert.deepEqual(cut[0].tokens, free[0].tokens.slice(0, k + 1));
  assert.equal(cut[0].finishReason, 'eos');
  const single = await gen.run([prompts[0]], { maxNewTokens: 12, temperature: 0, eos: [e] });
  assert.equal(single.tokens[0].length, k + 1, 'the Loop ended early');
});

test('LoRA: generate and score with the PEFT adapter; switched off equals the base model', async () => {
  await setup();
  const a = await loadPeftAdapter(join(FIXTURES, 'llama-tiny-lora'), llama.config);
  const sl = await ScoreProgram.create(runner, llama, { lora: a.config });
  const gl = await GenerateProgram.create(runner, llama, { lora: a.config, eos: [2] });
  await sl.setAdapter(a.weights);
  const items = prompts.map((p) => ({ prompt: p.prompt.slice(0, 1), target: p.prompt.slice(1) }));
  const base = await score.score(items);
  const off = await sl.score(items, { adapter: false });
  const on = await sl.score(items);
  for (let i = 0; i < items.length; i++) {
    assert.ok(maxAbsDiff(base.logprobs[i], off.logprobs[i]) < 1e-5);
    assert.ok(maxAbsDiff(base.logprobs[i], on.logprobs[i]) > 1e-3, 'the adapter changes the outputs');
  }
  const o = { maxNewTokens: 8, temperature: 0.8, seed: 5, eos: [] };
  const g = await gl.generate(prompts, o);
  const sg = await sl.score(
    prompts.map((p, i) => ({ prompt: p.prompt, target: g[i].tokens })),
    { temperature: 0.8 },
  );
  g.forEach((x, i) => assert.ok(maxAbsDiff(x.logprobs, sg.logprobs[i]) < 1e-4));
});

test('stop strings end generation inside the graph and are cut from the text (byte-level model)', async () => {
  const f = byteLevelTokenizerFiles();
  const tokenizer = new TextTokenizer(f.tokenizerJson, f.tokenizerConfig);
  const config = parseDecoderConfig(
    makeConfigJson({
      vocabSize: 259,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      eosTokenId: 258,
    }),
  );
  const model = { config, weights: randomDecoderWeights(config, 4, 0.3), tokenizer };
  const g = await GenerateProgram.create(runner, model, { name: 'gen-bytes' });
  const req = [{ id: 'x', prompt: tokenizer.encode('Problem: 1+1\nAnswer:') }];
  const o = { maxNewTokens: 40, temperature: 1.0, seed: 7, eos: [] };
  const free = (await g.run(req, o)).tokens[0];
  const printable = (t: number) => t >= 32 && t < 127;
  const i = free.findIndex((t, j) => j >= 2 && printable(t) && printable(free[j + 1] ?? -1));
  assert.ok(i > 0, 'the sample has two printable bytes in a row');
  const stop = String.fromCharCode(free[i], free[i + 1]);
  const first = free.findIndex((t, j) => t === free[i] && free[j + 1] === free[i + 1]);
  const raw = await g.run(req, { ...o, stop: [stop] });
  assert.equal(raw.tokens[0].length, first + 2, 'the loop stopped right after the stop sequence');
  const [out] = await g.generate(req, { ...o, stop: [stop] });
  assert.equal(out.finishReason, 'stop');
  assert.deepEqual(out.tokens, free.slice(0, first + 2));
  assert.ok(!out.text.includes(stop));
});

test('finishRow: partial UTF-8 at the end of byte-level output is held back', () => {
  const f = byteLevelTokenizerFiles();
  const tok = new TextTokenizer(f.tokenizerJson, f.tokenizerConfig);
  const ids = tok.encode('ok 😀');
  const r = finishRow('r', ids.slice(0, -1), new Array<number>(ids.length - 1).fill(-1), new Set([258]), [], tok);
  assert.equal(r.text, 'ok ');
  assert.equal(r.finishReason, 'length');
  const withEos = finishRow('r', [...ids, 258, 256], [0, 0, 0, 0, 0, 0, 0, 0, 0], new Set([258]), [], tok);
  assert.equal(withEos.text, 'ok 😀');
  assert.equal(withEos.finishReason, 'eos');
  assert.deepEqual(withEos.tokens, [...ids, 258]);
  const s = finishRow('r', tok.encode('abc\\boxed{1} more'), new Array<number>(17).fill(0), new Set(), ['}'], tok);
  assert.equal(s.text, 'abc\\boxed{1');
  assert.equal(s.tokens.length, 12);
  assert.equal(s.finishReason, 'stop');
});

test('text prompts are encoded with the model tokenizer; EOS ids come from the model folder', async () => {
  await setup();
  const g = await GenerateProgram.create(runner, llama, { name: 'gen-text' });
  assert.deepEqual(g.eos, [2]);
  const o = { maxNewTokens: 6, temperature: 0.9, seed: 2, eos: [] };
  const [a] = await g.generate([{ id: 't', prompt: 'Hello world' }], o);
  const [b] = await g.generate([{ id: 't', prompt: llama.tokenizer!.encode('Hello world') }], o);
  assert.deepEqual(a, b);
  assert.equal(a.text, llama.tokenizer!.decodeComplete(a.tokens, { skipSpecialTokens: true }).text);
});

/** The exact method in float64: top-p sampling by inverse CDF over the sorted distribution (ties by index). */
function exactSample(
  logits: Float32Array,
  temperature: number,
  topP: number,
  u: number,
  walk: 'sorted' | 'vocabulary' = topP < 1 ? 'sorted' : 'vocabulary',
): { token: number; margin: number } {
  const V = logits.length;
  if (temperature <= 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    return { token: best, margin: Infinity };
  }
  const mx = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp((x - mx) / temperature));
  const z = e.reduce((a, b) => a + b, 0);
  const p = e.map((x) => x / z);
  // The nucleus: the most likely tokens (ties by lower index first) while the mass before them is below top-p.
  const order = Array.from({ length: V }, (_, i) => i);
  if (topP < 1) order.sort((a, b) => p[b] - p[a] || a - b);
  const kept: number[] = [];
  let before = 0;
  let margin = Infinity;
  for (const i of order) {
    // The kept set's edge is as fragile as the CDF's: a preceding mass within rounding of top-p.
    if (topP < 1) margin = Math.min(margin, Math.abs(before - topP));
    if (topP < 1 && before >= topP) break;
    kept.push(i);
    before += p[i];
  }
  if (walk === 'vocabulary') kept.sort((a, b) => a - b);
  const total = kept.reduce((s, i) => s + p[i], 0);
  const thr = u * total;
  let cum = 0;
  let token = kept[kept.length - 1];
  for (const i of kept) {
    const prev = cum;
    cum += p[i];
    if (cum > thr) {
      token = i;
      margin = Math.min(margin, cum - thr, thr - prev);
      break;
    }
  }
  return { token, margin };
}

test('sampling equals the exact method: greedy, top-p = 1, and top-p < 1 from the candidates or the wide nucleus', async () => {
  const B = 6;
  const V = 1000; // more than TOP_P_CANDIDATES
  const g = new Graph('sample');
  const logits = g.input('logits', 'float32', [B, V]);
  const u = g.input('u', 'float32', [B]);
  const temperature = g.input('temperature', 'float32', []);
  const topP = g.input('top_p', 'float32', []);
  const s = sampleToken(logits, u, temperature, topP, V);
  g.output('token', s.token);
  g.output('logp', s.logp);
  await runner.load('sample', serializeModel(g));
  let rng = 12345;
  const rand = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let checked = 0;
  let fragile = 0;
  const paths = { candidates: 0, wideNucleus: 0 };
  for (let trial = 0; trial < 40; trial++) {
    // Rows from peaked (the nucleus within the candidates) to flat (the wide nucleus); the last row of
    // odd trials has its logits on a grid of 0.25, so the wide nucleus's edge falls inside a tie.
    const lg = new Float32Array(B * V);
    for (let b = 0; b < B; b++) {
      const sharp = [8, 4, 2, 0.5, 0.1, (trial % 5) * 2][b];
      for (let v = 0; v < V; v++) lg[b * V + v] = sharp * Math.log(1 / (v + 1)) * (0.5 + rand()) + rand();
    }
    if (trial % 2) for (let v = 0; v < V; v++) lg[5 * V + v] = Math.round(4 * rand()) / 4;
    const uu = Float32Array.from({ length: B }, () => Math.floor(rand() * 2 ** 24) / 2 ** 24);
    for (const [t, p] of [
      [0, 1],
      [1, 1],
      [0.7, 1],
      [1, 0.9],
      [0.8, 0.5],
      [1.3, 0.97],
    ]) {
      const r = await runner.run('sample', {
        logits: { dtype: 'float32', shape: [B, V], data: lg },
        u: { dtype: 'float32', shape: [B], data: uu },
        temperature: { dtype: 'float32', shape: [], data: Float32Array.of(t) },
        top_p: { dtype: 'float32', shape: [], data: Float32Array.of(p) },
      });
      const tok = r.outputs.token.data as BigInt64Array;
      for (let b = 0; b < B; b++) {
        const row = lg.subarray(b * V, (b + 1) * V);
        let path: keyof typeof paths | undefined;
        if (p < 1 && t > 0) {
          const mx = Math.max(...row);
          const pr = Array.from(row, (x) => Math.exp((x - mx) / t));
          const z = pr.reduce((a, c) => a + c, 0);
          const top =
            pr
              .sort((a, c) => c - a)
              .slice(0, TOP_P_CANDIDATES)
              .reduce((a, c) => a + c, 0) / z;
          path = top >= p + 1e-6 ? 'candidates' : 'wideNucleus';
          paths[path]++;
        }
        // The candidates walk the nucleus in decreasing probability, the wide nucleus in vocabulary order.
        const ex = exactSample(row, t, p, uu[b], path === 'wideNucleus' || p >= 1 ? 'vocabulary' : 'sorted');
        if (ex.margin < 1e-5) {
          fragile++;
          continue;
        }
        checked++;
        assert.equal(Number(tok[b]), ex.token, `trial ${trial} T=${t} top_p=${p} row ${b}`);
      }
    }
  }
  assert.ok(fragile < checked / 50, `${fragile} of ${checked + fragile} draws within float rounding of a boundary`);
  assert.ok(paths.candidates > 50 && paths.wideNucleus > 50, `both top-p < 1 paths ran: ${JSON.stringify(paths)}`);
  await runner.unload('sample');
});

test('bad inputs are clear errors', async () => {
  await setup();
  await assert.rejects(
    score.score([{ prompt: [1], target: [400] }]),
    /item 0, position 1: token id 400 is outside the vocabulary \[0, 400\)/,
  );
  await assert.rejects(gen.generate([{ id: 'x', prompt: [] }], { maxNewTokens: 2 }), /empty prompt/);
  await assert.rejects(gen.generate([{ id: 'x', prompt: [1] }], { maxNewTokens: 2, topP: 0 }), /topP/);
  await assert.rejects(gen.generate([{ id: 'x', prompt: [-1] }], { maxNewTokens: 2 }), /token id -1/);
});

test('score: log-probs and pooled states of each item equal an unpadded forward pass', async () => {
  await setup();
  const items = [
    { prompt: [], target: [5, 6, 7] },
    { prompt: [9, 10, 11, 12, 13, 14, 15], target: [16] },
    { prompt: [20], target: [21, 22, 23, 24, 25] },
  ];
  const s = await score.score(items, { temperature: 0.7 });
  const fw = await createSession(serializeModel(buildForwardProgram(llama.config, llama.weights)));
  const V = llama.config.vocabSize;
  const H = llama.config.hiddenSize;
  for (let i = 0; i < items.length; i++) {
    const row = [...items[i].prompt, ...items[i].target];
    const b = padBatch([row], 'right');
    const r = await runSession(fw, { tokens: b.tokens, mask: b.mask });
    const logits = r.logits.data as Float32Array;
    const hidden = r.hidden.data as Float32Array;
    const p = items[i].prompt.length;
    items[i].target.forEach((tok, k) => {
      const at = p + k;
      let want = 0;
      if (at > 0) {
        const z = Array.from(logits.subarray((at - 1) * V, at * V), (x) => x / 0.7);
        const mx = Math.max(...z);
        want = z[tok] - mx - Math.log(z.reduce((a, x) => a + Math.exp(x - mx), 0));
      }
      assert.ok(Math.abs(s.logprobs[i][k] - want) < 1e-4, `item ${i} token ${k}: ${s.logprobs[i][k]} vs ${want}`);
    });
    const pooled = new Float32Array(H);
    for (let k = 0; k < items[i].target.length; k++)
      for (let j = 0; j < H; j++) pooled[j] += hidden[(p + k) * H + j] / items[i].target.length;
    assert.ok(maxAbsDiff(s.embeddings[i], pooled) < 1e-4, `item ${i} embedding`);
  }
  await fw.release();
});
