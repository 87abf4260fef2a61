// The device stages of one GRPO step of the rewriting policy, as plain functions over compiled
// programs (no store, no Temporal): rollouts from the policy and the update (the frozen backbone's
// scores of each rewrite are training/backbone-scores.ts). Activities wrap them.
import type { GenerateProgram, ScoreProgram, TrainProgram } from '../engine/programs';
import type { TextTokenizer } from '../engine/tokenizer';
import { fill } from '../method/prompts';

export interface RewriteRecord {
  id: string;
  question: string;
  answer: string;
}

export interface Rollout {
  recordId: string;
  /** Index of the sample within its group (0..K-1). */
  sample: number;
  text: string;
  tokens: number[];
  /** The sampler's log-probability of each token (temperature-scaled, before top-p). */
  logprobs: number[];
  finishReason: 'eos' | 'stop' | 'length';
}

export interface SamplingOptions {
  groupSize: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** GRPO step: with the seed, the record id and the sample index it keys the sampling noise. */
  step: number;
  rewritePrompt: string;
  batchSize: number;
}

export const rewritePromptTokens = (tok: TextTokenizer, template: string, r: RewriteRecord) =>
  tok.encode(fill(template, { question: r.question, answer: r.answer }));

/** K rewrites per record; noise keyed by (seed, step, record id, sample), so batching changes nothing. */
export async function sampleRollouts(
  gen: GenerateProgram,
  tok: TextTokenizer,
  records: RewriteRecord[],
  o: SamplingOptions,
  onBatch: (done: number, of: number) => void = () => {},
): Promise<Rollout[]> {
  const reqs = records.flatMap((r) => {
    const prompt = rewritePromptTokens(tok, o.rewritePrompt, r);
    return Array.from({ length: o.groupSize }, (_, k) => ({ id: `${r.id}#${o.step}#${k}`, prompt, r, k }));
  });
  const out: Rollout[] = [];
  for (let i = 0; i < reqs.length; i += o.batchSize) {
    const batch = reqs.slice(i, i + o.batchSize);
    const gens = await gen.generate(batch, {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: o.seed,
    });
    gens.forEach((g, j) =>
      out.push({
        recordId: batch[j].r.id,
        sample: batch[j].k,
        text: g.text,
        tokens: g.tokens,
        logprobs: g.logprobs,
        finishReason: g.finishReason,
      }),
    );
    onBatch(out.length, reqs.length);
  }
  return out;
}

export interface UpdateExample {
  prompt: number[];
  completion: number[];
  advantage: number;
  samplerLogprobs: number[];
}

export interface UpdateResult {
  loss: number;
  kl: number;
  clipFraction: number;
  gradNorm: number;
  /** Mean |old log-prob recomputed by the policy - the sampler's|, per token: the sampler/trainer gap. */
  logprobGap: number;
  tokens: number;
}

/**
 * One GRPO step: the old log-probs of the ratio are recomputed by the policy's own forward on the
 * sampled tokens (as verl does), then one AdamW step on the clipped surrogate plus k3 KL to the
 * adapter-off reference. `microBatch` splits the batch for gradient accumulation (the trainer must be
 * compiled with `accumulate` then); one optimizer step per call either way.
 */
export async function grpoUpdate(
  trainer: TrainProgram,
  scorer: ScoreProgram,
  examples: UpdateExample[],
  o: { learningRate: number; temperature: number; scoreBatch: number; microBatch?: number },
): Promise<UpdateResult> {
  const old: number[][] = [];
  for (let i = 0; i < examples.length; i += o.scoreBatch) {
    const s = await scorer.score(
      examples.slice(i, i + o.scoreBatch).map((e) => ({ prompt: e.prompt, target: e.completion })),
      { temperature: o.temperature, adapter: true },
    );
    old.push(...s.logprobs.map((x) => Array.from(x)));
  }
  let gap = 0;
  let tokens = 0;
  examples.forEach((e, i) =>
    e.samplerLogprobs.forEach((lp, j) => {
      gap += Math.abs(old[i][j] - lp);
      tokens++;
    }),
  );
  const batch = examples.map((e, i) => ({
    prompt: e.prompt,
    completion: e.completion,
    advantage: e.advantage,
    oldLogprobs: old[i],
  }));
  const mb = o.microBatch && o.microBatch < batch.length ? o.microBatch : undefined;
  const step = mb ? microBatches(batch, mb, !!trainer.options.grpo?.sharedPrompts) : batch;
  const r = await trainer.step([step], o.learningRate);
  const metric = (k: string) => r.metrics[k]?.[0] ?? 0;
  return {
    loss: r.losses[0],
    kl: metric('kl'),
    clipFraction: metric('clip_frac'),
    gradNorm: r.gradNorms?.[0] ?? NaN,
    logprobGap: tokens ? gap / tokens : 0,
    tokens,
  };
}

/**
 * Consecutive micro-batches of at most `size` examples; with `wholeGroups` (a trainer that shares
 * prompts) each holds whole groups of one prompt (at least one group, whatever `size`).
 */
function microBatches<T extends { prompt: number[] }>(batch: T[], size: number, wholeGroups: boolean): T[][] {
  if (!wholeGroups)
    return Array.from({ length: Math.ceil(batch.length / size) }, (_, k) => batch.slice(k * size, (k + 1) * size));
  const groups = new Map<string, T[]>();
  for (const e of batch) {
    const key = e.prompt.join(',');
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const out: T[][] = [];
  for (const g of groups.values()) {
    const last = out[out.length - 1];
    if (last && last.length + g.length <= size) last.push(...g);
    else out.push([...g]);
  }
  return out;
}
