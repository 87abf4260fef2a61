// The embedded world's step language, read back from text: the gate's `steps` check parses a rewrite
// and its reference into steps and compares them as multisets. The parser reads every rendering of
// world/styles.ts (symbols or words; lines, "1) " numbering or "; "-joined inline; "First, " ...
// connectives) without importing world/, so method/ stays independent of the world.

export type ParsedStep =
  | { op: 'add' | 'sub' | 'mul' | 'max' | 'min'; a: number; b: number; c: number }
  | { op: 'spell'; word: string; letters: string }
  | { op: 'reverse'; letters: string }
  | { op: 'count'; word: string; letter: string; n: number }
  | { op: 'recall'; entity: string; attribute: string; value: string };

const NUM = '(-?\\d+)';
const LETTERS = '([a-z](?: [a-z])*)';
const WORD = '([a-z]+)';

/** One pattern per step form, each anchored to the whole (trimmed) step text. */
const FORMS: { re: RegExp; make: (m: RegExpExecArray) => ParsedStep | undefined }[] = [
  ...(
    [
      ['add', '\\+', 'plus'],
      ['sub', '-', 'minus'],
      ['mul', '\\*', 'times'],
    ] as const
  ).flatMap(([op, symbol, word]) => [
    { re: new RegExp(`^${NUM} ${symbol} ${NUM} = ${NUM}$`), make: arith(op) },
    { re: new RegExp(`^${NUM} ${word} ${NUM} is ${NUM}$`), make: arith(op) },
  ]),
  { re: new RegExp(`^(max|min)\\(${NUM}, ${NUM}\\) = ${NUM}$`), make: (m) => compare(m[1], m.slice(2)) },
  {
    re: new RegExp(`^the (larger|smaller) of ${NUM} and ${NUM} is ${NUM}$`, 'i'),
    make: (m) => compare(m[1].toLowerCase() === 'larger' ? 'max' : 'min', m.slice(2)),
  },
  // before the spelling: "rev = ..." is always the reversal (the world's language cannot tell a
  // spelling of the word "rev" from it; rewrite and reference are read the same way)
  { re: new RegExp(`^rev = ${LETTERS}$`), make: (m) => ({ op: 'reverse', letters: joined(m[1]) }) },
  { re: new RegExp(`^backwards it is ${LETTERS}$`, 'i'), make: (m) => ({ op: 'reverse', letters: joined(m[1]) }) },
  { re: new RegExp(`^${WORD} = ${LETTERS}$`), make: (m) => ({ op: 'spell', word: m[1], letters: joined(m[2]) }) },
  {
    re: new RegExp(`^${WORD} is spelled ${LETTERS}$`),
    make: (m) => ({ op: 'spell', word: m[1], letters: joined(m[2]) }),
  },
  {
    re: new RegExp(`^count\\(([a-z]), ${WORD}\\) = ${NUM}$`),
    make: (m) => ({ op: 'count', letter: m[1], word: m[2], n: Number(m[3]) }),
  },
  {
    re: new RegExp(`^${WORD} has ([a-z]) ${NUM} times$`),
    make: (m) => ({ op: 'count', word: m[1], letter: m[2], n: Number(m[3]) }),
  },
  {
    re: /^([A-Z][a-z]*)\.([a-z]+) = (\S+)$/,
    make: (m) => ({ op: 'recall', entity: m[1], attribute: m[2], value: m[3] }),
  },
  {
    re: /^([A-Z][a-z]*) lives in (\S+)$/,
    make: (m) => ({ op: 'recall', entity: m[1], attribute: 'city', value: m[2] }),
  },
  {
    re: /^([A-Z][a-z]*) has (\S+) ([a-z]+)$/,
    make: (m) => ({ op: 'recall', entity: m[1], attribute: m[3], value: m[2] }),
  },
];

function arith(op: 'add' | 'sub' | 'mul') {
  return (m: RegExpExecArray): ParsedStep => ({ op, a: Number(m[1]), b: Number(m[2]), c: Number(m[3]) });
}

function compare(op: string, [a, b, c]: string[]): ParsedStep {
  return { op: op as 'max' | 'min', a: Number(a), b: Number(b), c: Number(c) };
}

const joined = (spaced: string) => spaced.replace(/ /g, '');

/** Connectives a step may start with (the verbose style's, and "Next, "). */
const CONNECTIVE = /^(?:first|then|next|finally),\s+/i;
/** A numbered line: "1) " (the world's numbering) or "1. ". */
const NUMBERING = /^\d+[).]\s+/;
/** The final answer line: "\boxed{...}", optionally "So the answer is ..." and a closing period. */
const ANSWER_LINE = /^(?:(?:so|thus|therefore),?\s+)?(?:the\s+(?:final\s+)?answer\s+is\s+)?\\boxed\{.*\}\.?$/i;

/** One step's text (no numbering, no "; " joins) as a step; undefined when it is not one. */
export function parseStep(text: string): ParsedStep | undefined {
  const s = text.trim().replace(CONNECTIVE, '').replace(/\s+/g, ' ');
  for (const form of FORMS) {
    const m = form.re.exec(s);
    if (m) return form.make(m);
  }
  return undefined;
}

export interface ParsedSolution {
  steps: ParsedStep[];
  /** The lines (1-based numbers, as written) that are neither steps nor the final answer line. */
  unparsed: { line: number; text: string }[];
  /** Whether the last non-blank line is the \boxed{} answer line. */
  answerLine: boolean;
}

/**
 * A solution's steps. Every non-blank line but a final \boxed{} answer line must be steps: one step,
 * a numbered step, or several steps joined by ";" (the inline layout), with an optional closing
 * period. Blank lines carry no claim and are skipped.
 */
export function parseSolution(text: string): ParsedSolution {
  const lines = text
    .split('\n')
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '');
  const last = lines[lines.length - 1];
  const answerLine = last !== undefined && ANSWER_LINE.test(last.text);
  const steps: ParsedStep[] = [];
  const unparsed: ParsedSolution['unparsed'] = [];
  for (const l of answerLine ? lines.slice(0, -1) : lines) {
    const body = l.text.replace(NUMBERING, '').replace(/[.;]$/, '');
    const parts = body.split(/;\s*/).map(parseStep);
    if (parts.some((p) => p === undefined)) unparsed.push(l);
    else steps.push(...(parts as ParsedStep[]));
  }
  return { steps, unparsed, answerLine };
}

const COMMUTATIVE = new Set(['add', 'mul', 'max', 'min']);

/** A canonical key: equal for the same step, whatever its wording, and operands of +, *, max, min in either order. */
export function stepKey(s: ParsedStep): string {
  switch (s.op) {
    case 'spell':
      // the word "rev" spelled is written "rev = r e v", which reads as a reversal: one key for both
      return s.word === 'rev' && s.letters === 'rev' ? 'reverse rev' : `spell ${s.word} ${s.letters}`;
    case 'reverse':
      return `reverse ${s.letters}`;
    case 'count':
      return `count ${s.letter} ${s.word} ${s.n}`;
    case 'recall':
      return `recall ${s.entity} ${s.attribute} ${s.value}`;
    default: {
      const [a, b] = COMMUTATIVE.has(s.op) && s.b < s.a ? [s.b, s.a] : [s.a, s.b];
      return `${s.op} ${a} ${b} ${s.c}`;
    }
  }
}

/** What one multiset of steps lacks and has in excess compared with another, by step key. */
export function compareSteps(
  got: ParsedStep[],
  want: ParsedStep[],
): { equal: boolean; missing: string[]; extra: string[] } {
  const counts = new Map<string, number>();
  for (const s of want) counts.set(stepKey(s), (counts.get(stepKey(s)) ?? 0) + 1);
  const extra: string[] = [];
  for (const s of got) {
    const k = stepKey(s);
    const n = counts.get(k) ?? 0;
    if (n > 0) counts.set(k, n - 1);
    else extra.push(k);
  }
  const missing = [...counts].flatMap(([k, n]) => Array<string>(n).fill(k));
  return { equal: missing.length === 0 && extra.length === 0, missing, extra };
}
