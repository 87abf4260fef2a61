// The gate's optional judge (METHOD.md, "Rewards"): the frozen backbone pi_0 (adapter off) is asked
// whether a candidate is correct and reaches the reference's final answer, and the candidate passes
// iff P(YES) >= P(NO) for the reply's first word (method/gate.ts judgePasses). The probabilities come
// from the score program: the judge prompt is the context and each answer word a target, so
// P(word) = exp(sum of its tokens' log-probabilities) — the next token's probability when the
// tokenizer encodes the word as one token (as a real model's does), the probability that the reply
// begins with the word when it takes several (a byte-level model: "YES" is three tokens). The word
// follows the prompt directly when the prompt ends in whitespace, after a space otherwise
// (method/prompts.ts judgeAnswers). Both answers of a candidate share its prompt, which the score
// program runs once: one forward per candidate.
import type { ScoreProgram } from '../engine/programs';
import type { TextTokenizer } from '../engine/tokenizer';
import { judgePasses, type JudgeVerdict } from '../method/gate';
import { fill, judgeAnswers, JUDGE_PROMPT } from '../method/prompts';

export interface JudgeItem {
  question: string;
  /** The reference answer y*. */
  reference: string;
  candidate: string;
}

export interface JudgeOptions {
  /** The judge prompt with {question}, {reference} and {candidate} (default JUDGE_PROMPT). */
  prompt?: string;
  /** Candidates per score run (each run scores both answers of every candidate). */
  batchSize: number;
}

/** The judge prompt's tokens and the two answers' tokens for one candidate. */
export function judgeTokens(tok: TextTokenizer, item: JudgeItem, template = JUDGE_PROMPT) {
  const text = fill(template, { question: item.question, reference: item.reference, candidate: item.candidate });
  const words = judgeAnswers(text);
  return {
    prompt: tok.encode(text),
    yes: tok.encode(words.yes, { addSpecialTokens: false }),
    no: tok.encode(words.no, { addSpecialTokens: false }),
  };
}

/** The judge's verdict on each candidate, in order: P(YES), P(NO) and pass iff P(YES) >= P(NO). */
export async function judgeCandidates(
  scorer: ScoreProgram,
  tok: TextTokenizer,
  items: JudgeItem[],
  o: JudgeOptions,
  onBatch: (done: number, of: number) => void = () => {},
): Promise<JudgeVerdict[]> {
  const window = scorer.model.config.slidingWindow;
  const out: JudgeVerdict[] = [];
  for (let i = 0; i < items.length; i += o.batchSize) {
    const batch = items.slice(i, i + o.batchSize).map((it) => judgeTokens(tok, it, o.prompt));
    // a prompt longer than a sliding-window model attends to cannot be asked: the candidate fails, saying so
    const fits = batch.map(
      (b) => window === undefined || b.prompt.length + Math.max(b.yes.length, b.no.length) <= window,
    );
    const asked = batch.filter((_, k) => fits[k]);
    const scored = await scorer.score(
      asked.flatMap((b) => [
        { prompt: b.prompt, target: b.yes },
        { prompt: b.prompt, target: b.no },
      ]),
      { adapter: false },
    );
    const p = (k: number) => Math.exp(scored.logprobs[k].reduce((s, x) => s + x, 0));
    let k = 0;
    batch.forEach((b, j) => {
      if (!fits[j]) {
        out.push({
          pass: false,
          pYes: null,
          pNo: null,
          note: `the judge prompt (${b.prompt.length} tokens) exceeds the model's sliding window (${window})`,
        });
        return;
      }
      const pYes = p(2 * k);
      const pNo = p(2 * k + 1);
      k++;
      out.push({ pass: judgePasses(pYes, pNo), pYes, pNo });
    });
    onBatch(Math.min(items.length, i + o.batchSize), items.length);
  }
  return out;
}
