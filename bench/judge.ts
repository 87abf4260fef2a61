/**
 * What the gate's judge costs next to the reward's scoring (never part of npm test):
 *   npx tsx bench/judge.ts [--threads N] [--n N] [--reps R]
 * On the shipped world backbone (world/shipped/default-seed0), N candidates (the sample downstream
 * records' references and as many with a wrong box): the judge (training/judge.ts: the default judge
 * prompt, both answers on one shared prompt per candidate) against the reward's forward passes on the
 * same candidates (training/backbone-scores.ts: NLL under the QA prefix and the embedding of the text
 * alone), in the same run. Prints milliseconds per candidate, their ratio, the judge prompt's mean
 * length in tokens, and the judge's verdicts (the world's backbone was never taught to judge).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ArtifactStore } from '../activities/artifact-store';
import { DeviceSession } from '../activities/device/session';
import { JUDGE_PROMPT, QA_TEMPLATE } from '../method/prompts';
import { backboneScores } from '../training/backbone-scores';
import { judgeCandidates, judgeTokens, type JudgeItem } from '../training/judge';
import { PROJECT_ROOT } from '../workers/settings';
import { median } from './engine-model-common';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    n: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
  },
});
const THREADS = Number(values.threads);
const N = Number(values.n);
const REPS = Number(values.reps);

const root = mkdtempSync(join(tmpdir(), 'bench-judge-'));
try {
  cpSync(join(PROJECT_ROOT, 'world', 'shipped', 'default-seed0'), join(root, 'models', 'world'), { recursive: true });
  const store = new ArtifactStore(root);
  const session = new DeviceSession('cpu', THREADS);
  const { loaded, program } = await session.scorer(store, { uri: 'artifact://models/world' });
  const tok = loaded.model.tokenizer!;
  const records = readFileSync(join(PROJECT_ROOT, 'world', 'sample', 'downstream.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { problem: string; solution: string });
  const items: JudgeItem[] = Array.from({ length: N }, (_, i) => {
    const r = records[Math.floor(i / 2) % records.length];
    // every other candidate has a wrong final answer
    const candidate = i % 2 === 0 ? r.solution : r.solution.replace(/\\boxed\{([^}]*)\}/, '\\boxed{$11}');
    return { question: r.problem, reference: r.solution, candidate };
  });
  const promptTokens = items.map((it) => judgeTokens(tok, it).prompt.length);
  const judgeMs: number[] = [];
  const rewardMs: number[] = [];
  let verdicts: Awaited<ReturnType<typeof judgeCandidates>> = [];
  for (let rep = 0; rep <= REPS; rep++) {
    // rep 0 warms both programs up (the shared-prompt score program compiles on first use)
    let t0 = performance.now();
    verdicts = await judgeCandidates(program, tok, items, { prompt: JUDGE_PROMPT, batchSize: 32 });
    const j = performance.now() - t0;
    t0 = performance.now();
    await backboneScores(
      program,
      tok,
      items.map((it) => ({ question: it.question, text: it.candidate })),
      { qaPrompt: QA_TEMPLATE, batchSize: 64, embeddings: true },
    );
    const r = performance.now() - t0;
    if (rep > 0) {
      judgeMs.push(j);
      rewardMs.push(r);
    }
  }
  const perJ = median(judgeMs) / N;
  const perR = median(rewardMs) / N;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`world backbone, ${N} candidates, ${THREADS} threads, load ${loadavg()[0].toFixed(2)}`);
  console.log(`judge prompt: ${mean(promptTokens).toFixed(0)} tokens on average (default JUDGE_PROMPT)`);
  console.log(`judge:  ${perJ.toFixed(2)} ms per candidate (median of ${REPS})`);
  console.log(`reward: ${perR.toFixed(2)} ms per candidate (NLL under the QA prefix + embedding)`);
  console.log(`judge / reward: ${(perJ / perR).toFixed(2)}`);
  const right = verdicts.filter((_, i) => i % 2 === 0);
  const wrong = verdicts.filter((_, i) => i % 2 === 1);
  console.log(
    `verdicts: YES on ${right.filter((v) => v.pass).length}/${right.length} right candidates, ` +
      `${wrong.filter((v) => v.pass).length}/${wrong.length} wrong ones; ` +
      `mean P(YES) ${mean(verdicts.map((v) => v.pYes!)).toExponential(2)}, mean P(NO) ${mean(verdicts.map((v) => v.pNo!)).toExponential(2)}`,
  );
  await session.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
