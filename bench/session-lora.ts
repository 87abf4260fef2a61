/**
 * Rollouts with the LoRA adapter as runner-state inputs vs merged into the weights (never part of
 * npm test):
 *   npx tsx bench/session-lora.ts [--model DIR] [--threads N] [--rank R] [--batch B] [--new N] [--quick]
 * On the world backbone (DIR: a model folder; default the newest models/backbone-default-* in
 * $REWRITE_RL_HOME/artifacts, else an untrained backbone of the default recipe's shape, which costs the
 * same): time per rollout batch (rewrite prompts, sampling at temperature 1, a fixed number of new
 * tokens) and per score batch through DeviceSession.policy (unmerged) and through the merged path,
 * and what a new adapter costs each way: a state update (setAdapter, or useAdapter reading it from
 * the store) vs merging it and compiling a new generate program.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ArtifactStore } from '../activities/artifact-store';
import { DeviceSession } from '../activities/device/session';
import { initLoraWeights, loraConfig, savePeftAdapter, type LoraWeights } from '../engine/lora';
import { Rng } from '../engine/rng';
import { fill, WORLD_REWRITE_PROMPT } from '../method/prompts';
import { writeInitialBackbone } from '../world/backbone';
import { DEFAULT_RECIPE } from '../world/recipe';
import { median } from './engine-model-common';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = args.includes('--quick');
const THREADS = Number(opt('--threads') ?? 2);
const RANK = Number(opt('--rank') ?? 8);
const BATCH = Number(opt('--batch') ?? 32);
const NEW = Number(opt('--new') ?? (QUICK ? 32 : 128));
const REPS = QUICK ? 2 : 3;

function defaultModel(): string | undefined {
  const models = join(resolve(process.env.REWRITE_RL_HOME ?? '.rewrite-rl'), 'artifacts', 'models');
  if (!existsSync(models)) return undefined;
  const found = readdirSync(models)
    .filter((d) => d.startsWith('backbone-default-') && existsSync(join(models, d, 'model.safetensors')))
    .map((d) => join(models, d))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return found[0];
}

const root = mkdtempSync(join(tmpdir(), 'bench-session-lora-'));
const store = new ArtifactStore(root);
const source = opt('--model') ?? defaultModel();
if (source) cpSync(source, store.resolve('models/base'), { recursive: true });
else await writeInitialBackbone(store.resolve('models/base'), DEFAULT_RECIPE.backbone, 0);
const base = { uri: 'artifact://models/base' };
const lora = loraConfig({ rank: RANK, alpha: 2 * RANK });
const session = new DeviceSession('cpu', THREADS, 4);

/** A trained-looking adapter: PEFT's A and a small non-zero B. */
function adapter(c: Parameters<typeof initLoraWeights>[0], seed: number): LoraWeights {
  const w = initLoraWeights(c, lora, seed);
  const rng = new Rng(seed + 1);
  for (const [name, t] of Object.entries(w))
    if (name.endsWith('lora_B')) for (let i = 0; i < t.data.length; i++) t.data[i] = (rng.float() - 0.5) * 0.02;
  return w;
}

async function ms(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

const tCompileUnmerged = performance.now();
const policy = await session.policy(store, base, lora);
const compileUnmerged = performance.now() - tCompileUnmerged;
const { config, tokenizer } = policy.loaded.model;
const adapters = [1, 2, 3].map((s) => adapter(config, s));
for (const [i, w] of adapters.entries())
  await savePeftAdapter(store.resolve(`adapters/a${i}`), config, lora, w, { baseModel: base.uri });

const requests = Array.from({ length: BATCH }, (_, i) => ({
  id: `r${i}`,
  prompt: tokenizer!.encode(
    fill(WORLD_REWRITE_PROMPT, {
      question: `Which is larger, ${i % 9} + ${(i * 7) % 10} or ${(i * 3) % 8} + 5?`,
      answer: `${i % 9} + ${(i * 7) % 10} = ${(i % 9) + ((i * 7) % 10)}; ${(i * 3) % 8} + 5 = ${((i * 3) % 8) + 5}.\n\\boxed{x}`,
    }),
  ),
}));
const promptLen = Math.max(...requests.map((r) => r.prompt.length));
const sampling = { maxNewTokens: NEW, temperature: 1, seed: 1, eos: [] as number[] };
const scoreItems = requests.map((r) => ({ prompt: r.prompt, target: r.prompt.slice(0, NEW) }));

async function timeBatches(gen: () => Promise<unknown>): Promise<number> {
  await gen(); // warm-up
  const ts: number[] = [];
  for (let r = 0; r < REPS; r++) ts.push(await ms(gen));
  return median(ts);
}

// unmerged: the policy's programs, the adapter in the runner's state
await policy.setAdapter(adapters[0], 'a0');
const rolloutUnmerged = await timeBatches(() => policy.generator.run(requests, sampling));
const scoreUnmerged = await timeBatches(() => policy.scorer.score(scoreItems));
const rolloutReference = await timeBatches(() => policy.generator.run(requests, { ...sampling, adapter: false }));
const setTimes: number[] = [];
for (let r = 0; r < 5; r++) setTimes.push(await ms(() => policy.setAdapter(adapters[r % 3], `a${r % 3}`)));
const useTimes: number[] = [];
for (let r = 0; r < 5; r++)
  useTimes.push(await ms(() => policy.useAdapter(store, `artifact://adapters/a${(r + 1) % 3}`)));

// merged: a new adapter is a new model (merge, compile); the first batch after it pays the compile
const tMerge = performance.now();
const merged = await session.generator(store, { ...base, adapter: 'artifact://adapters/a0' });
const mergeCompile = performance.now() - tMerge;
const rolloutMerged = await timeBatches(() => merged.program.run(requests, sampling));
const scorer = await session.scorer(store, { ...base, adapter: 'artifact://adapters/a0' });
const scoreMerged = await timeBatches(() => scorer.program.score(scoreItems));
const tMerge2 = performance.now();
await session.generator(store, { ...base, adapter: 'artifact://adapters/a1' });
const mergeCompile2 = performance.now() - tMerge2;
await session.close();
rmSync(root, { recursive: true, force: true });

const f = (x: number) => `${x.toFixed(0)} ms`;
const params = Object.values(adapters[0]).reduce((s, t) => s + t.data.length, 0);
console.log(
  `model: ${source ?? 'untrained backbone of the default shape'}: llama ${config.numLayers} layers, width ${config.hiddenSize}; LoRA rank ${RANK} on every linear layer (${(params / 1e3).toFixed(0)}k params); ${THREADS} threads; load ${loadavg()[0].toFixed(2)}`,
);
console.log(
  `rollout batch: ${BATCH} prompts of up to ${promptLen} tokens, ${NEW} new tokens, temperature 1 (median of ${REPS})`,
);
console.log(`| path | rollout batch | score batch |`);
console.log(`|---|---|---|`);
console.log(`| merged (adapter in the weights) | ${f(rolloutMerged)} | ${f(scoreMerged)} |`);
console.log(`| unmerged (adapter as runner state) | ${f(rolloutUnmerged)} | ${f(scoreUnmerged)} |`);
console.log(`| unmerged, adapter off (reference) | ${f(rolloutReference)} | |`);
console.log(`unmerged / merged rollout time: ${(rolloutUnmerged / rolloutMerged).toFixed(2)}`);
console.log(`a new adapter:`);
console.log(`  unmerged, setAdapter (tensors in memory): ${median(setTimes).toFixed(1)} ms (median of 5)`);
console.log(`  unmerged, useAdapter (read from the store, then set): ${median(useTimes).toFixed(1)} ms (median of 5)`);
console.log(
  `  merged: merge + compile a generate program: ${f(mergeCompile)} (first), ${f(mergeCompile2)} (second adapter)`,
);
console.log(`  (compiling the unmerged generate + score programs once per base model: ${f(compileUnmerged)})`);
