/**
 * One GRPO step of the embedded world's setting, ours against PyTorch in the same run (never part of npm test):
 *   npx tsx bench/grpo-step.ts [--steps N] [--threads T] [--attn sdpa|eager] [--python P (default $TORCH_PYTHON, else python3)]
 *     [--preset world] [--prompts P] [--k K] [--new-tokens N] [--temperature X]
 * The world backbone's shape (world/recipe.ts DEFAULT_RECIPE.backbone) with its initial random weights
 * (world/backbone.ts: no pretraining needed), LoRA rank 8 alpha 16 on every linear layer, 8 prompts x K = 5
 * rewrites; the prompts are the world's rewrite prompt over a shop problem and its foreign-style solution
 * (about 200 byte tokens), 96 new tokens. Stages, timed on both sides:
 *   rollout  GenerateProgram with the adapter as inputs (unmerged LoRA): K samples per prompt with log-probs
 *            (each prompt prefilled once for its K rows);
 *   reward   the frozen backbone (ScoreProgram without the adapter): NLL per answer token under the QA
 *            prefix of the problem, the mean-pooled last hidden state of the rewrite alone, and the
 *            group rewards and GRPO advantages of method/rewards.ts (every rewrite counted feasible:
 *            untrained weights pass no gate, and the gate runs on the CPU worker, not here);
 *   update   the forward that recomputes the old log-probs with the policy (ScoreProgram with the
 *            adapter), then TrainProgram objective 'grpo' with LoRA: one AdamW step on the 40 rewrites.
 * Ours runs each prompt once for its K rewrites wherever they share it (GrpoOptions.sharedPrompts and the
 * score program's shared path, model/shared-prefix.ts); PyTorch runs every row in full, as transformers
 * and PEFT do. The work computed is the same (the check below compares NLLs, advantages, loss and
 * gradient norm); ours does less of it.
 * Every rollout gives exactly 96 tokens (no EOS) so both sides have the same shapes throughout; the
 * PyTorch side (bench/grpo_step_torch.py: transformers generate under inference_mode, forwards for the
 * scores, backward through a PEFT LoRA, AdamW, float32, the same threads) scores and trains on our
 * sampled completions, so the two adapters stay equal step after step and their losses are compared.
 * The two sides alternate step by step (ours, then PyTorch's on the same batch), so both meet the same
 * load; one warm-up step, then N measured steps (default 3); the figure per stage is the median of
 * wall-clock times (CPU times beside them). The speed-up is PyTorch's time over ours. Exits non-zero,
 * printing no ratio, when the reference cannot run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runner } from '../engine/runner';
import { loadHFModel } from '../engine/model';
import { initLoraWeights, loraConfig, savePeftAdapter } from '../engine/lora';
import { GenerateProgram } from '../engine/programs/generate';
import { ScoreProgram } from '../engine/programs/score';
import { TrainProgram, type GrpoExample } from '../engine/programs/train';
import { groupRewards, grpoAdvantages, l2Normalize, PAPER_REWARD_WEIGHTS } from '../method/rewards';
import { qaPrompt } from '../method/prompts';
import { writeInitialBackbone } from '../world/backbone';
import { DEFAULT_RECIPE } from '../world/recipe';
import { FOREIGN, render } from '../world/styles';
import { distinct, makeWorld, rewritePrompt } from '../world/world';
import { REWRITER_PRESETS } from '../schemas/rewriter-presets';
import { median } from './engine-model-common';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const STEPS = Number(opt('--steps', '3'));
const THREADS = Number(opt('--threads', '2'));
const ATTN = opt('--attn', 'sdpa');
const PYTHON = opt('--python', process.env.TORCH_PYTHON ?? 'python3'); // as the other PyTorch benches
// --preset world: the sizes of trainRewriter's world preset (schemas/rewriter-presets.ts) instead of
// the default 8 prompts x K = 5, LoRA r8/alpha 16, temperature 1, lr 1e-4.
const preset = args.includes('--preset') ? REWRITER_PRESETS[opt('--preset', 'world') as 'world'] : undefined;
if (args.includes('--preset') && !preset) fail(`unknown preset '${opt('--preset', '')}'`);
const PROMPTS = Number(opt('--prompts', String(preset?.promptsPerStep ?? 8)));
const K = Number(opt('--k', String(preset?.groupSize ?? 5)));
const NEW = Number(opt('--new-tokens', String(preset?.maxNewTokens ?? 96)));
const TEMPERATURE = Number(opt('--temperature', String(preset?.temperature ?? 1)));
const RANK = preset?.lora.rank ?? 8;
const ALPHA = preset?.lora.alpha ?? 16;
const LR = preset?.learningRate ?? 1e-4;
const CLIP = preset?.clip ?? 0.2;
const KL = preset?.klCoef ?? 0.001;
const SEED = 0;

function fail(msg: string): never {
  console.error(`grpo-step: ${msg}`);
  process.exit(1);
}

const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers, peft; print(torch.__version__)'], {
  encoding: 'utf8',
});
if (probe.error || probe.status !== 0)
  fail(
    `the PyTorch reference cannot run with '${PYTHON}' (${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}); ` +
      'install torch, transformers and peft, or pass --python /path/to/venv/bin/python',
  );

const dir = mkdtempSync(join(tmpdir(), 'grpo-step-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const modelDir = join(dir, 'model');
const adapterDir = join(dir, 'adapter');
await writeInitialBackbone(modelDir, DEFAULT_RECIPE.backbone, SEED);
const model = await loadHFModel(modelDir);
const tok = model.tokenizer;
if (!tok) fail('the backbone folder has no tokenizer');
const pad = model.config.padTokenId ?? 0;
const lora = loraConfig({ rank: RANK, alpha: ALPHA });
const adapter0 = initLoraWeights(model.config, lora, SEED);
await savePeftAdapter(adapterDir, model.config, lora, adapter0);

// The world's rewrite prompts: a shop problem and its solution in the foreign style; fresh prompts every step.
const world = makeWorld(SEED);
const problems = distinct(world.downstream, 'train', PROMPTS * (STEPS + 1), SEED);
const batches = Array.from({ length: STEPS + 1 }, (_, s) =>
  problems.slice(s * PROMPTS, (s + 1) * PROMPTS).map((p) => ({
    id: p.id,
    prompt: tok.encode(rewritePrompt(p.question, render(p.trace, FOREIGN))),
    qa: tok.encode(qaPrompt(p.question)),
  })),
);
const promptLens = batches.flat().map((b) => b.prompt.length);

// nice 0: the device threads run at the priority of the PyTorch process (the runner's default of 10
// lets other work on the machine go first, which a benchmark must not do to one side only).
const runner = new Runner({ intraOpThreads: THREADS, nice: 0 });
const gen = await GenerateProgram.create(runner, model, { lora, eos: [] });
const policyScore = await ScoreProgram.create(runner, model, { lora, name: 'score+lora' });
const backboneScore = await ScoreProgram.create(runner, model, { name: 'score' });
const train = await TrainProgram.create(runner, model, {
  objective: 'grpo',
  lora,
  grpo: { clip: CLIP, klCoef: KL, temperature: TEMPERATURE, reference: 'graph', sharedPrompts: true },
  optimizer: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
  clipNorm: 1,
  singleStep: true,
});
await train.init(adapter0); // the adapter lives in the runner's state, shared by the three programs

// The PyTorch side: a process that takes the setting, then one batch per step (bench/grpo_step_torch.py).
const script = fileURLToPath(new URL('./grpo_step_torch.py', import.meta.url));
const py = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
let pyErr = '';
py.stderr.on('data', (d: Buffer) => (pyErr = (pyErr + d.toString()).slice(-4000)));
const pyLines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
const pyExit = new Promise<number | null>((resolve) => py.on('exit', resolve));
async function ask(msg: unknown): Promise<Record<string, unknown>> {
  py.stdin.write(JSON.stringify(msg) + '\n');
  const next = await Promise.race([pyLines.next(), pyExit.then(() => undefined)]);
  if (!next || next.done)
    fail(`the PyTorch reference failed (exit ${py.exitCode}): ${pyErr.trim().split('\n').slice(-4).join(' | ')}`);
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(next.value) as Record<string, unknown>;
  } catch {
    fail(`the PyTorch reference answered '${next.value.slice(0, 200)}'`);
  }
  if (typeof r.error === 'string') fail(`the PyTorch reference failed: ${r.error}`);
  return r;
}
const versions = await ask({
  threads: THREADS,
  seed: SEED,
  attn: ATTN,
  model_dir: modelDir,
  adapter_dir: adapterDir,
  pad_id: pad,
  temperature: TEMPERATURE,
  max_new: NEW,
  k: K,
  lr: LR,
  clip: CLIP,
  kl_coef: KL,
  lambda_dist: PAPER_REWARD_WEIGHTS.lambdaDist,
  lambda_div: PAPER_REWARD_WEIGHTS.lambdaDiv,
});

const load0 = loadavg()[0];
console.log(
  `model: world backbone (hidden ${model.config.hiddenSize}, ${model.config.numLayers} layers, ${model.config.numHeads}/${model.config.numKvHeads} heads, intermediate ${model.config.intermediateSize}, vocab ${model.config.vocabSize}), initial random weights; LoRA r${lora.rank} alpha ${lora.alpha} on all linear layers`,
);
console.log(
  `step: ${PROMPTS} prompts x K=${K} rewrites${preset ? ' (world preset)' : ''}, lr ${LR}, prompts ${Math.min(...promptLens)}-${Math.max(...promptLens)} tokens, ${NEW} new tokens, temperature ${TEMPERATURE}; ${THREADS} threads; load average ${load0.toFixed(2)}`,
);

const STAGES = ['rollout', 'reward', 'update', 'total'] as const;
type Stage = (typeof STAGES)[number];
type Times = Record<`${Stage}_ms` | `${Stage}_cpu_ms`, number>;
interface StepOut extends Times {
  loss: number;
  gradNorm: number;
  nll: number[];
  adv: number[];
}
const ours: StepOut[] = [];
const theirs: StepOut[] = [];
let samplerGap = 0;
const clock = () => ({ wall: performance.now(), cpu: process.cpuUsage() });
const since = (c: ReturnType<typeof clock>): [number, number] => {
  const u = process.cpuUsage(c.cpu);
  return [performance.now() - c.wall, (u.user + u.system) / 1000];
};
for (const [s, batch] of batches.entries()) {
  const times = {} as Times;
  let c = clock();
  // rollout: the policy samples K rewrites per prompt
  const reqs = batch.flatMap((b) => Array.from({ length: K }, (_, k) => ({ id: `${b.id}#${k}`, prompt: b.prompt })));
  const roll = await gen.run(reqs, { maxNewTokens: NEW, temperature: TEMPERATURE, seed: s, eos: [] });
  if (roll.tokens.some((t) => t.length !== NEW)) fail('a rollout row ended before the last new token');
  [times.rollout_ms, times.rollout_cpu_ms] = since(c);
  c = clock();
  // reward: the frozen backbone's NLL under the QA prefix, embeddings of the rewrite alone, group rewards
  const qa = await backboneScore.score(
    roll.tokens.map((t, i) => ({ prompt: batch[Math.floor(i / K)].qa, target: t })),
    { padId: pad },
  );
  const alone = await backboneScore.score(
    roll.tokens.map((t) => ({ prompt: [], target: t })),
    { padId: pad },
  );
  const nll = qa.logprobs.map((lp) => -lp.reduce((a, b) => a + b, 0) / lp.length);
  const emb = alone.embeddings.map((e) => l2Normalize(e));
  const adv: number[] = [];
  for (let i = 0; i < reqs.length; i += K) {
    const r = groupRewards(
      { gate: new Array<number>(K).fill(1), nll: nll.slice(i, i + K), embeddings: emb.slice(i, i + K) },
      PAPER_REWARD_WEIGHTS,
    );
    adv.push(...grpoAdvantages(r.reward));
  }
  [times.reward_ms, times.reward_cpu_ms] = since(c);
  c = clock();
  // update: the policy's own forward recomputes the old log-probs, then one GRPO AdamW step
  const old = await policyScore.score(
    roll.tokens.map((t, i) => ({ prompt: reqs[i].prompt, target: t })),
    { temperature: TEMPERATURE, padId: pad },
  );
  const examples: GrpoExample[] = roll.tokens.map((t, i) => ({
    prompt: reqs[i].prompt,
    completion: t,
    advantage: adv[i],
    oldLogprobs: Array.from(old.logprobs[i]),
  }));
  const r = await train.step([examples], LR);
  [times.update_ms, times.update_cpu_ms] = since(c);
  times.total_ms = times.rollout_ms + times.reward_ms + times.update_ms;
  times.total_cpu_ms = times.rollout_cpu_ms + times.reward_cpu_ms + times.update_cpu_ms;
  if (!Number.isFinite(r.losses[0])) fail(`step ${s}: loss ${r.losses[0]}`);
  roll.logprobs.forEach((row, i) =>
    row.forEach((v, j) => (samplerGap = Math.max(samplerGap, Math.abs(v - old.logprobs[i][j])))),
  );
  ours.push({ ...times, loss: r.losses[0], gradNorm: r.gradNorms?.[0] ?? NaN, nll, adv });
  // the same step in PyTorch, on the same batch
  const t = await ask({
    prompts: batch.map((b) => b.prompt),
    qa_prompts: batch.map((b) => b.qa),
    completions: roll.tokens,
  });
  theirs.push({ ...(t as unknown as StepOut), gradNorm: t.grad_norm as number });
  const fmt = (x: StepOut) =>
    `rollout ${x.rollout_ms.toFixed(0)}, reward ${x.reward_ms.toFixed(0)}, update ${x.update_ms.toFixed(0)} ms`;
  console.log(`  step ${s}${s === 0 ? ' (warm-up)' : ''}: ours ${fmt(ours[s])}; torch ${fmt(theirs[s])}`);
}
py.stdin.end();
await runner.close();

// Same work on both sides: the same batch gives the same NLLs, advantages, loss and gradient norm.
let nllGap = 0;
let advGap = 0;
let lossGap = 0;
let normGap = 0;
ours.forEach((o, s) => {
  const t = theirs[s];
  o.nll.forEach((v, i) => (nllGap = Math.max(nllGap, Math.abs(v - t.nll[i]))));
  o.adv.forEach((v, i) => (advGap = Math.max(advGap, Math.abs(v - t.adv[i]))));
  lossGap = Math.max(lossGap, Math.abs(o.loss - t.loss));
  normGap = Math.max(normGap, Math.abs(o.gradNorm - t.gradNorm) / Math.max(t.gradNorm, 1e-12));
});
console.log(
  `same batch, same step: max |NLL diff| ${nllGap.toExponential(1)}, max |advantage diff| ${advGap.toExponential(1)}, max |loss diff| ${lossGap.toExponential(1)}, max relative gradient-norm diff ${normGap.toExponential(1)} (grad norms ${ours.map((o) => o.gradNorm.toPrecision(4)).join(', ')}); our sampler's vs recomputed log-probs: max gap ${samplerGap.toExponential(1)}`,
);
if (!(lossGap < 1e-3 && nllGap < 1e-3 && normGap < 1e-2))
  fail('the two sides do not compute the same step (see the differences above)');

const med = (xs: StepOut[], k: keyof Times) => median(xs.slice(1).map((x) => x[k]));
console.log(`\nmedian of ${STEPS} steps after one warm-up; wall ms (CPU ms of the process in brackets):`);
console.log('stage   |            ours |           torch | speed-up (torch / ours)');
for (const k of STAGES) {
  const [a, b] = [med(ours, `${k}_ms`), med(theirs, `${k}_ms`)];
  const cell = (w: number, cpu: number) => `${w.toFixed(0).padStart(6)} (${cpu.toFixed(0).padStart(6)})`;
  console.log(
    `${(k === 'total' ? 'step' : k).padEnd(7)} | ${cell(a, med(ours, `${k}_cpu_ms`))} | ${cell(b, med(theirs, `${k}_cpu_ms`))} | ${(b / a).toFixed(2)}x`,
  );
}
console.log(
  `\nPyTorch ${String(versions.torch)}, transformers ${String(versions.transformers)}, peft ${String(versions.peft)}; ${String(versions.threads)} threads, float32, attention '${String(versions.attn_implementation)}', eager, unmerged PEFT LoRA.`,
);
console.log(
  `load average (1 min): ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (other processes on this machine skew both sides)`,
);
