/**
 * Scale check (by hand, not part of npm test): a randomly initialised qwen2-shaped model of about
 * 0.5B parameters (Qwen2.5-0.5B's shape: width 896, 24 layers, 14/2 heads, vocab 151936, tied
 * embeddings, QKV bias) is written by the project's own writer as a Hugging Face folder (BF16) in a
 * temporary directory, loaded back, and run through score, generate and one LoRA train step.
 * Prints times and the peak resident memory.
 *   npx tsx scripts/engine-scale-check.ts [--layers N] [--keep DIR]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner } from '../engine/runner';
import { loadHFModel, makeConfigJson, parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { saveHFFolder } from '../engine/hf-folder';
import { byteLevelTokenizerFiles } from '../engine/tokenizer';
import { initLoraWeights, loraConfig } from '../engine/lora';
import { GenerateProgram, ScoreProgram, TrainProgram } from '../engine/programs';

const args = process.argv.slice(2);
const layers = args.includes('--layers') ? Number(args[args.indexOf('--layers') + 1]) : 24;
const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const rss = () => gb(process.memoryUsage().rss);
const peak = () => gb(process.resourceUsage().maxRSS * 1024);
const t = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await f();
  console.log(
    `${label.padEnd(44)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(7)} s   rss ${rss()}   peak ${peak()}`,
  );
  return r;
};

const raw = makeConfigJson({
  modelType: 'qwen2',
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: layers,
  numHeads: 14,
  numKvHeads: 2,
  ropeTheta: 1e6,
  tieWordEmbeddings: true,
  maxPositionEmbeddings: 32768,
  eosTokenId: 151643,
});
const root = await mkdtemp(join(tmpdir(), 'scale-check-'));
const dir = join(root, 'qwen2-0.5b-random');
try {
  await t('write random weights (BF16) with saveHFFolder', async () => {
    const config = parseDecoderConfig(raw);
    const w = randomDecoderWeights(config, 1, 0.02);
    for (const [k, v] of Object.entries(w)) if (k.endsWith('.bias')) (v.data as Float32Array).fill(0.01);
    const n = Object.values(w).reduce((s, x) => s + x.data.length, 0);
    console.log(`parameters: ${(n / 1e6).toFixed(1)}M`);
    await saveHFFolder(dir, config, w, {
      dtype: 'bfloat16',
      maxShardBytes: 500e6,
      tokenizer: byteLevelTokenizerFiles(),
    });
  });
  const model = await t('loadHFModel (sharded BF16 -> float32)', () => loadHFModel(dir));
  const runner = new Runner({ intraOpThreads: 2 });
  const score = await t('compile + load score program', () => ScoreProgram.create(runner, model));
  const items = [0, 1].map((i) => ({
    prompt: Array.from({ length: 32 }, (_, j) => 10 + ((i * 97 + j * 31) % 5000)),
    target: Array.from({ length: 32 }, (_, j) => 20 + ((i * 13 + j * 7) % 5000)),
  }));
  await t('score 2 x 64 tokens (first run)', () => score.score(items));
  const s = await t('score 2 x 64 tokens', () => score.score(items));
  console.log(
    `  mean target log-prob ${(s.logprobs.flatMap((x) => Array.from(x)).reduce((a, b) => a + b) / 64).toFixed(3)}; embedding width ${s.embeddings[0].length}`,
  );
  await runner.unload(score.name);
  const gen = await t('compile + load generate program', () => GenerateProgram.create(runner, model, { eos: [] }));
  const reqs = items.map((it, i) => ({ id: `r${i}`, prompt: it.prompt }));
  await t('generate 2 x 16 new tokens (first run)', () =>
    gen.run(reqs, { maxNewTokens: 16, temperature: 0.8, seed: 1 }),
  );
  const g = await t('generate 2 x 16 new tokens', () => gen.run(reqs, { maxNewTokens: 16, temperature: 0.8, seed: 1 }));
  console.log(`  tokens ${g.tokens[0].slice(0, 8).join(' ')} ...`);
  await runner.unload(gen.name);
  const lora = loraConfig({ rank: 8, alpha: 16 });
  const train = await t('compile + load LoRA SFT step (r8, all linear)', () =>
    TrainProgram.create(runner, model, { objective: 'sft', lora }),
  );
  await train.init(initLoraWeights(model.config, lora, 1));
  const r1 = await t('LoRA step 2 x 64 tokens (first run)', () => train.step([items], 1e-4));
  const r2 = await t('LoRA step 2 x 64 tokens', () => train.step([items], 1e-4));
  console.log(`  losses ${r1.losses[0].toFixed(3)} -> ${r2.losses[0].toFixed(3)}`);
  await runner.close();
  console.log(`peak resident memory of the process (runner thread included): ${peak()}`);
} finally {
  if (!args.includes('--keep')) await rm(root, { recursive: true, force: true });
}
