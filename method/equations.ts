// The gate's `equations` check for math-style data in general: every arithmetic claim found anywhere
// in a text must hold. Claims are `a op b (op c ...) = d` (+, -, *, x, ×, /, the usual precedence;
// chains like `2 + 3 = 5 = 10 / 2`), `max(a, b, ...) = c`, `min(...) = c`, and the world's words forms
// ("3 plus 8 is 11", "the larger of 4 and 9 is 9"). An expression that is part of a larger one the
// scanner cannot read (a variable, a bracket) is left alone rather than misread.

export interface EquationReport {
  /** How many claims were found. */
  checked: number;
  /** The claims that do not hold, as written. */
  failed: string[];
}

const NUM = String.raw`-?\d+(?:\.\d+)?`;
const OP = String.raw`(?:[-+*/×]|(?<=\s)x(?=\s))`;
const EXPR = String.raw`${NUM}(?:\s*${OP}\s*${NUM})*`;
const CHAIN = new RegExp(String.raw`(?<![\w.])${EXPR}(?:\s*=\s*${EXPR})+`, 'g');
const EXTREMUM = new RegExp(String.raw`\b(max|min)\(\s*(${NUM}(?:\s*,\s*${NUM})+)\s*\)\s*=\s*(${NUM})(?!\w|\.\d)`, 'g');
const WORDS = new RegExp(String.raw`(?<![\w.])(${NUM}) (plus|minus|times) (${NUM}) is (${NUM})(?!\w|\.\d)`, 'g');
const WORDS_EXTREMUM = new RegExp(
  String.raw`\bthe (larger|smaller) of (${NUM}) and (${NUM}) is (${NUM})(?!\w|\.\d)`,
  'gi',
);

/** The value of `a op b op ...` with * and / before + and -; NaN for a division by zero. */
function evaluate(expr: string): number {
  const tokens = expr.match(new RegExp(`${NUM}|${OP}`, 'g'))!;
  // the tokenizer reads "3 -2" as 3 and -2: an operand directly after an operand is a subtraction
  const items: (number | string)[] = [];
  for (const t of tokens) {
    const isNum = /\d/.test(t);
    if (isNum && typeof items[items.length - 1] === 'number' && t.startsWith('-')) items.push('-', Number(t.slice(1)));
    else items.push(isNum ? Number(t) : t);
  }
  const terms: number[] = [items[0] as number];
  const signs: number[] = [1];
  for (let i = 1; i < items.length; i += 2) {
    const op = items[i] as string;
    const v = items[i + 1] as number;
    if (op === '+' || op === '-') {
      terms.push(v);
      signs.push(op === '+' ? 1 : -1);
    } else {
      const last = terms.length - 1;
      terms[last] = op === '/' ? (v === 0 ? NaN : terms[last] / v) : terms[last] * v;
    }
  }
  return terms.reduce((s, t, i) => s + signs[i] * t, 0);
}

const decimals = (n: string) => (n.includes('.') ? n.length - n.indexOf('.') - 1 : 0);

/** Whether `value` equals the number written `written`, up to the rounding its decimals imply. */
function matches(value: number, written: string): boolean {
  const tolerance = decimals(written) === 0 ? 1e-9 : 0.5 * 10 ** -decimals(written) + 1e-9;
  return Number.isFinite(value) && Math.abs(value - Number(written)) <= tolerance;
}

const hasOp = (expr: string) => new RegExp(`${NUM}\\s*${OP}\\s*${NUM}`).test(expr);

export function checkEquations(text: string): EquationReport {
  const failed: string[] = [];
  let checked = 0;
  const claim = (holds: boolean, written: string) => {
    checked++;
    if (!holds) failed.push(written);
  };
  for (const m of text.matchAll(CHAIN)) {
    const line = text.slice(text.lastIndexOf('\n', m.index) + 1, m.index).trimEnd();
    const after = text.slice(m.index + m[0].length);
    // part of a larger expression (an operator before it, other than a list bullet; a variable or an
    // operator right after it): not ours to read
    if (/[-+*/×=]$/.test(line) && !/^[-*+]$/.test(line)) continue;
    if (/^[\w(]|^\.\d|^[ \t]*[-+*/×=]/.test(after)) continue;
    const sides = m[0].split(/\s*=\s*/);
    const computed = sides.filter(hasOp).map(evaluate);
    if (computed.length === 0) continue;
    // every computed side has the same value, and every plain number is that value as written
    const value = computed[0];
    const close = (v: number) => Math.abs(v - value) <= 1e-9 * Math.max(1, Math.abs(value));
    claim(
      Number.isFinite(value) && computed.every(close) && sides.filter((s) => !hasOp(s)).every((s) => matches(value, s)),
      m[0],
    );
  }
  for (const m of text.matchAll(EXTREMUM)) {
    const xs = m[2].split(/\s*,\s*/).map(Number);
    claim(matches(m[1] === 'max' ? Math.max(...xs) : Math.min(...xs), m[3]), m[0]);
  }
  for (const m of text.matchAll(WORDS)) {
    const [a, b] = [Number(m[1]), Number(m[3])];
    claim(matches(m[2] === 'plus' ? a + b : m[2] === 'minus' ? a - b : a * b, m[4]), m[0]);
  }
  for (const m of text.matchAll(WORDS_EXTREMUM)) {
    const [a, b] = [Number(m[2]), Number(m[3])];
    claim(matches(m[1].toLowerCase() === 'larger' ? Math.max(a, b) : Math.min(a, b), m[4]), m[0]);
  }
  return { checked, failed };
}
