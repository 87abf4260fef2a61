// The GRPO train step over groups that share a prompt (GrpoOptions.sharedPrompts): each prompt runs
// through the decoder once for its K completions (model/shared-prefix.ts), so a step of 16 prompts x
// K = 16 rewrites pays the ~230-token rewrite prompt 16 times instead of 256. The same loss on the
// same examples as the padded step, up to float rounding.
import type { Tensor, TensorData } from '../graph';
import * as op from '../ops';
import type { BatchSpec } from '../program';
import { names } from '../program';
import { type DecoderParams, lmHead } from '../model/decoder';
import { sharedPrefixForward } from '../model/shared-prefix';
import { f32, i64 } from './common';

/** Batch inputs of one micro-batch: G prompts (left-padded) and their G x K completions (right-padded). */
export const SHARED_PROMPT_BATCH: BatchSpec[] = [
  { name: 'prompt_tokens', dtype: 'int64', shape: ['groups', 'prompt'] },
  { name: 'prompt_mask', dtype: 'float32', shape: ['groups', 'prompt'] },
  { name: 'tokens', dtype: 'int64', shape: ['rows', 'completion'] },
  { name: 'mask', dtype: 'float32', shape: ['rows', 'completion'] },
  { name: 'advantages', dtype: 'float32', shape: ['rows'] },
  { name: 'old_logp', dtype: 'float32', shape: ['rows', 'completion'] },
];
export const SHARED_REF_LOGP: BatchSpec = { name: 'ref_logp', dtype: 'float32', shape: ['rows', 'completion'] };

/** log p of every completion token given its prompt and the tokens before it, temperature-scaled: [B, T]. */
export function sharedPromptLogprobs(m: DecoderParams, b: Record<string, Tensor>, temperature: number): Tensor {
  const { predicting } = sharedPrefixForward(m, b.prompt_tokens, b.prompt_mask, b.tokens, b.mask);
  let logits = lmHead(m, predicting);
  if (temperature !== 1) logits = op.mul(logits, 1 / temperature);
  return op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(b.tokens, [-1]), -1), [-1]);
}

export interface SharedPromptExample {
  prompt: number[];
  completion: number[];
  advantage: number;
  oldLogprobs: number[];
  refLogprobs?: number[];
}

/** The examples of a micro-batch by prompt (equal token lists), in order of first appearance. */
function byPrompt(mb: SharedPromptExample[]): SharedPromptExample[][] {
  const groups = new Map<string, SharedPromptExample[]>();
  for (const e of mb) {
    const key = e.prompt.join(',');
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  return [...groups.values()];
}

/**
 * Feeds of a run: every micro-batch's examples grouped by prompt, each group K completions (the same K
 * throughout the run, as GRPO samples them), laid out in one shape with a leading shape `lead`. A
 * micro-batch with fewer groups is filled with empty groups (masked out: no loss, no gradient).
 */
export function sharedPromptFeeds(
  micro: SharedPromptExample[][],
  lead: number[],
  withRef: boolean,
): Record<string, TensorData> {
  const grouped = micro.map(byPrompt);
  const K = grouped[0]?.[0]?.length ?? 0;
  grouped.forEach((mb, i) =>
    mb.forEach((g) => {
      if (g.length !== K)
        throw new Error(
          `train step (shared prompts): every prompt needs the same number of completions; micro-batch ${i} has a prompt with ${g.length}, another ${K}`,
        );
      if (!g[0].prompt.length) throw new Error('train step: every example needs at least one prompt token');
    }),
  );
  const all = micro.flat();
  const G = Math.max(1, ...grouped.map((mb) => mb.length));
  const P = Math.max(1, ...all.map((e) => e.prompt.length));
  const T = Math.max(1, ...all.map((e) => e.completion.length));
  const B = G * K;
  const n = micro.length;
  const promptTokens = new Array<number>(n * G * P).fill(0);
  const promptMask = new Float32Array(n * G * P);
  const tokens = new Array<number>(n * B * T).fill(0);
  const mask = new Float32Array(n * B * T);
  const adv = new Float32Array(n * B);
  const old = new Float32Array(n * B * T);
  const ref = new Float32Array(withRef ? n * B * T : 0);
  grouped.forEach((mb, m) =>
    mb.forEach((group, gi) => {
      const prompt = group[0].prompt;
      const pBase = (m * G + gi) * P + P - prompt.length; // left-padded: the prompt ends at the last column
      prompt.forEach((v, j) => {
        promptTokens[pBase + j] = v;
        promptMask[pBase + j] = 1;
      });
      group.forEach((e, k) => {
        const row = m * B + gi * K + k;
        if (e.oldLogprobs.length !== e.completion.length)
          throw new Error('train step: oldLogprobs must have one entry per completion token');
        adv[row] = e.advantage;
        e.completion.forEach((v, j) => {
          tokens[row * T + j] = v;
          mask[row * T + j] = 1;
          old[row * T + j] = e.oldLogprobs[j];
        });
        if (withRef) {
          if (!e.refLogprobs || e.refLogprobs.length !== e.completion.length)
            throw new Error('train step: refLogprobs (one per completion token) are required');
          e.refLogprobs.forEach((v, j) => (ref[row * T + j] = v));
        }
      });
    }),
  );
  const feeds: Record<string, TensorData> = {
    [names.batch('prompt_tokens')]: i64([...lead, G, P], promptTokens),
    [names.batch('prompt_mask')]: f32([...lead, G, P], promptMask),
    [names.batch('tokens')]: i64([...lead, B, T], tokens),
    [names.batch('mask')]: f32([...lead, B, T], mask),
    [names.batch('advantages')]: f32([...lead, B], adv),
    [names.batch('old_logp')]: f32([...lead, B, T], old),
  };
  if (withRef) feeds[names.batch('ref_logp')] = f32([...lead, B, T], ref);
  return feeds;
}
