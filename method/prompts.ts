// The prompts of the method. `{name}` placeholders are filled by `fill`.

/** The plain QA prefix: the backbone's own answers follow it; alignment (r_dist) is scored under it. */
export const QA_TEMPLATE = 'Problem:\n{question}\n\nAnswer:\n';

/** The rewriting prompt for real models (sent through the model's chat template). */
export const REWRITE_INSTRUCTION =
  'Rewrite the solution in your own words. Keep every step correct and the final answer the same. ' +
  "Do not mention rewriting. End with the final answer in the task's answer format.\n\n" +
  'Question:\n{question}\n\nSolution:\n{answer}';

/** The embedded world's rewriting prompt: the same request, short enough for a byte-level model's budget. */
export const WORLD_REWRITE_INSTRUCTION =
  'Rewrite this solution in your own words.\nQuestion: {question}\nSolution:\n{answer}';

/** The world's rewriting prompt in QA form, with {question} and {answer} still to fill. */
export const WORLD_REWRITE_PROMPT = QA_TEMPLATE.replace('{question}', WORLD_REWRITE_INSTRUCTION);

/** SDFT-style baseline (Yang et al. 2024). */
export const SDFT_INSTRUCTION =
  '{question}\n\nReference answer:\n{answer}\n\nRefer to the reference answer and write your own response.';

export const SDFT_GIVEAWAYS = [
  'reference answer',
  'your response',
  'my response',
  'your own response',
  "now it's your turn",
];

/** The optional judge check: pass iff P(YES) >= P(NO). */
export const JUDGE_INSTRUCTION =
  'Question:\n{question}\n\nReference solution:\n{reference}\n\nCandidate solution:\n{candidate}\n\n' +
  'Is the candidate correct and does it reach the same final answer as the reference? Reply YES or NO.';

/**
 * The judge's prompt (a gate config's `judgePrompt` replaces it): the judge instruction in the plain
 * QA form, so the backbone's reply starts on the line after "Answer:". Placeholders: {question},
 * {reference} (y*) and {candidate}.
 */
export const JUDGE_PROMPT = QA_TEMPLATE.replace('{question}', JUDGE_INSTRUCTION);

/**
 * The judge's two answers as they continue a filled judge prompt: "YES" and "NO" right after a prompt
 * that ends in whitespace (a newline, as JUDGE_PROMPT does, or a space), " YES" and " NO" after one
 * that ends in a word or a punctuation mark, as a tokenizer sees a reply that follows on the same line.
 */
export function judgeAnswers(filledPrompt: string): { yes: string; no: string } {
  const space = /\s$/.test(filledPrompt) ? '' : ' ';
  return { yes: `${space}YES`, no: `${space}NO` };
}

export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    if (!(key in vars)) throw new Error(`prompt template needs {${key}}`);
    return vars[key];
  });
}

/** The full QA-format prompt for a question. */
export function qaPrompt(question: string, template = QA_TEMPLATE): string {
  return fill(template, { question });
}
