// Pilot of the GRPO rewriter on the engine directly (no Temporal): what a step costs and whether the
// full pass rate moves, before the preset is fixed. Not part of npm test.
//   npx tsx scripts/pilot-rl.ts --backbone <model dir> --data <train-foreign.jsonl> [--steps 10] ...
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initLoraWeights, loraConfig } from '../engine/lora';
import { loadHFModel } from '../engine/model';
import { GenerateProgram, ScoreProgram, TrainProgram } from '../engine/programs';
import { Runner } from '../engine/runner';
import { Rng } from '../engine/rng';
import { extract } from '../method/extract';
import { fill, QA_TEMPLATE, WORLD_REWRITE_PROMPT } from '../method/prompts';
import { groupRewards, grpoAdvantages, l2Normalize } from '../method/rewards';

const { values: a } = parseArgs({
  options: {
    backbone: { type: 'string' },
    data: { type: 'string' },
    steps: { type: 'string', default: '10' },
    prompts: { type: 'string', default: '8' },
    k: { type: 'string', default: '5' },
    rank: { type: 'string', default: '8' },
    alpha: { type: 'string', default: '16' },
    lr: { type: 'string', default: '1e-3' },
    temperature: { type: 'string', default: '0.8' },
    'max-new': { type: 'string', default: '96' },
    kl: { type: 'string', default: '0.001' },
    seed: { type: 'string', default: '0' },
    'val-every': { type: 'string', default: '5' },
    'val-size': { type: 'string', default: '64' },
    'lambda-dist': { type: 'string', default: '0.35' },
    'lambda-div': { type: 'string', default: '0.5' },
  },
});
const N = (k: keyof typeof a) => Number(a[k]);

// The world's steps: `a op b = c`, `max(a, b) = c`; commutative operands sorted.
function steps(text: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of text.split(/\n|; /)) {
    const line = raw.trim().replace(/\.$/, '');
    if (line === '' || /^\\boxed\{[^}]*\}$/.test(line)) continue;
    let m = /^(\d+) ([+*-]) (\d+) = (-?\d+)$/.exec(line);
    if (m) {
      const [x, y] = m[2] === '-' ? [m[1], m[3]] : [m[1], m[3]].sort();
      out.push(`${x}${m[2]}${y}=${m[4]}`);
      continue;
    }
    m = /^(max|min)\((\d+), (\d+)\) = (\d+)$/.exec(line);
    if (m) {
      const [x, y] = [m[2], m[3]].sort();
      out.push(`${m[1]}(${x},${y})=${m[4]}`);
      continue;
    }
    return undefined;
  }
  return out.sort();
}
const gateOf = (text: string, ref: string) => {
  const gold = extract(ref, { kind: 'boxed' }, 'strict');
  const answer = gold !== undefined && extract(text, { kind: 'boxed' }, 'strict') === gold;
  const s = steps(text);
  const full = answer && s !== undefined && s.join('|') === steps(ref)!.join('|');
  return { answer, full };
};

const model = await loadHFModel(a.backbone!);
const tok = model.tokenizer!;
const records = readFileSync(a.data!, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; question: string; answer: string });
const val = records.slice(0, N('val-size'));
const pool = records.slice(N('val-size'));
const lora = loraConfig({ rank: N('rank'), alpha: N('alpha') });
const runner = new Runner({});
const t0 = Date.now();
const gen = await GenerateProgram.create(runner, model, { lora, name: 'gen' });
const score = await ScoreProgram.create(runner, model, { lora, name: 'score' });
const train = await TrainProgram.create(runner, model, {
  objective: 'grpo',
  lora,
  grpo: { clip: 0.2, klCoef: N('kl'), temperature: N('temperature') },
  optimizer: { weightDecay: 0.01 },
});
await train.init(initLoraWeights(model.config, lora, N('seed')));
console.log(`compiled in ${Date.now() - t0} ms`);

const rewritePrompt = (r: { question: string; answer: string }) => tok.encode(fill(WORLD_REWRITE_PROMPT, r));

async function validate(step: number) {
  const t = Date.now();
  let full = 0;
  let answer = 0;
  let nll = 0;
  let nllN = 0;
  let copies = 0;
  for (let i = 0; i < val.length; i += 32) {
    const batch = val.slice(i, i + 32);
    const g = await gen.generate(
      batch.map((r) => ({ id: r.id, prompt: rewritePrompt(r) })),
      { maxNewTokens: N('max-new'), temperature: 0 },
    );
    const feas: { q: string; text: string }[] = [];
    g.forEach((x, j) => {
      const v = gateOf(x.text, batch[j].answer);
      full += Number(v.full);
      answer += Number(v.answer);
      copies += Number(x.text.trim() === batch[j].answer.trim());
      if (v.full) feas.push({ q: batch[j].question, text: x.text });
    });
    if (feas.length) {
      const s = await score.score(
        feas.map((f) => ({
          prompt: tok.encode(fill(QA_TEMPLATE, { question: f.q })),
          target: tok.encode(f.text, { addSpecialTokens: false }),
        })),
        { adapter: false },
      );
      s.logprobs.forEach((lp) => {
        nll += -lp.reduce((x, y) => x + y, 0) / lp.length;
        nllN++;
      });
    }
  }
  console.log(
    `VAL step ${step}: greedy full ${((100 * full) / val.length).toFixed(1)}% answer ${((100 * answer) / val.length).toFixed(1)}% ` +
      `copies ${copies} nll(feasible) ${(nll / Math.max(1, nllN)).toFixed(3)} (${Date.now() - t} ms)`,
  );
}

await validate(0);
const rng = new Rng(N('seed') + 17);
const K = N('k');
for (let step = 1; step <= N('steps'); step++) {
  const ts = Date.now();
  const prompts = Array.from({ length: N('prompts') }, () => pool[rng.int(pool.length)]);
  const reqs = prompts.flatMap((r) =>
    Array.from({ length: K }, (_, k) => ({ id: `${r.id}#${step}#${k}`, prompt: rewritePrompt(r) })),
  );
  const gens = await gen.generate(reqs, {
    maxNewTokens: N('max-new'),
    temperature: N('temperature'),
    seed: N('seed'),
  });
  const tRoll = Date.now() - ts;
  const verdicts = gens.map((g, i) => gateOf(g.text, prompts[Math.floor(i / K)].answer));
  const tr = Date.now();
  const scorable = gens.map((g) => tok.encode(g.text, { addSpecialTokens: false }));
  const items = gens.map((_, i) => ({
    prompt: tok.encode(fill(QA_TEMPLATE, { question: prompts[Math.floor(i / K)].question })),
    target: scorable[i].length ? scorable[i] : [tok.encode(' ', { addSpecialTokens: false })[0]],
  }));
  const s1 = await score.score(items, { adapter: false });
  const s2 = await score.score(
    items.map((it) => ({ prompt: [], target: it.target })),
    { adapter: false },
  );
  const tReward = Date.now() - tr;
  const nll = s1.logprobs.map((lp) => -lp.reduce((x, y) => x + y, 0) / lp.length);
  const rewards: number[] = [];
  const advantages: number[] = [];
  let allEqual = 0;
  for (let p = 0; p < prompts.length; p++) {
    const idx = Array.from({ length: K }, (_, k) => p * K + k);
    const br = groupRewards(
      {
        gate: idx.map((i) => Number(verdicts[i].full)),
        nll: idx.map((i) => nll[i]),
        embeddings: idx.map((i) => l2Normalize(s2.embeddings[i])),
      },
      { lambdaDist: N('lambda-dist'), lambdaDiv: N('lambda-div') },
    );
    rewards.push(...br.reward);
    const adv = grpoAdvantages(br.reward);
    if (br.reward.every((r) => r === br.reward[0])) allEqual++;
    advantages.push(...adv);
  }
  const tu = Date.now();
  const examples = gens.map((g, i) => ({
    prompt: reqs[i].prompt as number[],
    completion: g.tokens,
    advantage: advantages[i],
    oldLogprobs: g.logprobs,
  }));
  const r = await train.step([examples.filter((e) => e.completion.length > 0)], N('lr'));
  const tUpd = Date.now() - tu;
  const full = verdicts.filter((v) => v.full).length / verdicts.length;
  const ans = verdicts.filter((v) => v.answer).length / verdicts.length;
  const meanLen = gens.reduce((x, g) => x + g.tokens.length, 0) / gens.length;
  const trunc = gens.filter((g) => g.finishReason === 'length').length;
  console.log(
    `step ${step}: full ${(100 * full).toFixed(1)}% answer ${(100 * ans).toFixed(1)}% reward ${(rewards.reduce((x, y) => x + y, 0) / rewards.length).toFixed(3)} ` +
      `allEqual ${allEqual}/${prompts.length} loss ${r.losses[0].toFixed(4)} kl ${r.metrics.kl?.[0]?.toExponential(2)} clip ${r.metrics.clip_frac?.[0]?.toFixed(3)} ` +
      `len ${meanLen.toFixed(1)} trunc ${trunc} | rollout ${tRoll} ms reward ${tReward} ms update ${tUpd} ms`,
  );
  if (step === 1) console.log('  sample:', JSON.stringify(gens[0].text), '| ref:', JSON.stringify(prompts[0].answer));
  if (step % N('val-every') === 0) await validate(step);
}
await runner.close();
