// Deterministic stylers. The own (prior) style is the backbone's: one terse step per line in symbols,
// then the boxed answer. Each other prior style differs from it in exactly one dimension; the foreign
// (downstream) style is a new combination of several. Every style ends with the answer in \boxed{}:
// the shift is in the steps, their order and their wording, never in the answer format.
import type { Step, Trace } from './trace';

export interface Style {
  name: string;
  /** 'symbols': "12 + 7 = 19"; 'words': "12 plus 7 is 19". */
  vocabulary: 'symbols' | 'words';
  /** 'forward': independent steps in problem order; 'reversed': independent steps in reverse order. */
  order: 'forward' | 'reversed';
  /** 'lines': a step per line; 'numbered': "1) ..." per line; 'inline': steps joined by "; ". */
  layout: 'lines' | 'numbered' | 'inline';
  /** 'terse': steps only; 'verbose': connectives ("First, ", "Then, ", "Finally, ") and "So the answer is". */
  verbosity: 'terse' | 'verbose';
}

export const OWN: Style = { name: 'own', vocabulary: 'symbols', order: 'forward', layout: 'lines', verbosity: 'terse' };

/** The prior's other styles: each differs from the own style in one dimension. */
export const ONE_STEP_STYLES: Style[] = [
  { ...OWN, name: 'words', vocabulary: 'words' },
  { ...OWN, name: 'reversed', order: 'reversed' },
  { ...OWN, name: 'numbered', layout: 'numbered' },
  { ...OWN, name: 'inline', layout: 'inline' },
  { ...OWN, name: 'verbose', verbosity: 'verbose' },
];

/**
 * The downstream reference style: a combination never seen after "Answer:" in pretraining (independent
 * steps in reverse order, joined on one line). It is as far from the own style as vanilla SFT on the
 * tiny backbone can still learn: combinations farther away (words, reversed, numbered and verbose at
 * once) cost more than twice the NLL and leave the downstream task mostly unlearned (README, "The
 * embedded world").
 */
export const FOREIGN: Style = {
  name: 'foreign',
  vocabulary: 'symbols',
  order: 'reversed',
  layout: 'inline',
  verbosity: 'terse',
};

const DIMENSIONS = ['vocabulary', 'order', 'layout', 'verbosity'] as const;
/** The one dimension a one-step style changes. */
const dimension = (s: Style) => DIMENSIONS.find((k) => s[k] !== OWN[k])!;

/**
 * Styles two steps from the own style, except the foreign combination: rewriting inputs that undo two
 * differences at once, so that undoing the foreign pair is a new combination of known skills.
 */
export const TWO_STEP_STYLES: Style[] = ONE_STEP_STYLES.flatMap((x, i) =>
  ONE_STEP_STYLES.slice(i + 1)
    .filter((y) => dimension(x) !== dimension(y))
    .map((y): Style => ({ ...x, [dimension(y)]: y[dimension(y)], name: `${x.name}+${y.name}` })),
).filter((s) => DIMENSIONS.some((k) => s[k] !== FOREIGN[k]));

export const STYLES: Style[] = [OWN, ...ONE_STEP_STYLES, ...TWO_STEP_STYLES, FOREIGN];

export function styleByName(name: string): Style {
  const s = STYLES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown style "${name}"; known: ${STYLES.map((x) => x.name).join(', ')}`);
  return s;
}

const spaced = (w: string) => w.split('').join(' ');

function stepText(step: Step, vocabulary: Style['vocabulary']): string {
  const words = vocabulary === 'words';
  switch (step.op) {
    case 'add':
      return words ? `${step.a} plus ${step.b} is ${step.c}` : `${step.a} + ${step.b} = ${step.c}`;
    case 'sub':
      return words ? `${step.a} minus ${step.b} is ${step.c}` : `${step.a} - ${step.b} = ${step.c}`;
    case 'mul':
      return words ? `${step.a} times ${step.b} is ${step.c}` : `${step.a} * ${step.b} = ${step.c}`;
    case 'max':
      return words ? `the larger of ${step.a} and ${step.b} is ${step.c}` : `max(${step.a}, ${step.b}) = ${step.c}`;
    case 'min':
      return words ? `the smaller of ${step.a} and ${step.b} is ${step.c}` : `min(${step.a}, ${step.b}) = ${step.c}`;
    case 'spell':
      return words ? `${step.word} is spelled ${spaced(step.word)}` : `${step.word} = ${spaced(step.word)}`;
    case 'reverse':
      return words
        ? `backwards it is ${spaced([...step.word].reverse().join(''))}`
        : `rev = ${spaced([...step.word].reverse().join(''))}`;
    case 'count':
      return words
        ? `${step.word} has ${step.letter} ${step.n} times`
        : `count(${step.letter}, ${step.word}) = ${step.n}`;
    case 'recall':
      if (!words) return `${step.entity}.${step.attribute} = ${step.value}`;
      return step.attribute === 'city'
        ? `${step.entity} lives in ${step.value}`
        : `${step.entity} has ${step.value} ${step.attribute}`;
  }
}

/** The order steps are written in: independent groups reversed for the 'reversed' order. */
export function stepOrder(trace: Trace, order: Style['order']): number[] {
  const indices = trace.steps.map((_, i) => i);
  if (order === 'forward') return indices;
  for (const group of trace.independent) {
    const reversed = [...group].reverse();
    group.forEach((pos, k) => (indices[pos] = reversed[k]));
  }
  return indices;
}

const CONNECTIVES = ['First, ', 'Then, ', 'Finally, '];

/** The solution text (what follows "Answer:\n"). */
export function render(trace: Trace, style: Style): string {
  const order = stepOrder(trace, style.order);
  const lines = order.map((i, k) => {
    let text = stepText(trace.steps[i], style.vocabulary);
    if (style.verbosity === 'verbose') {
      const connective =
        order.length === 1 ? '' : k === 0 ? CONNECTIVES[0] : k === order.length - 1 ? CONNECTIVES[2] : CONNECTIVES[1];
      text = connective + text;
    }
    return text;
  });
  const final =
    style.verbosity === 'verbose' ? `So the answer is \\boxed{${trace.answer}}.` : `\\boxed{${trace.answer}}`;
  if (style.layout === 'inline') return `${lines.join('; ')}.\n${final}`;
  if (style.layout === 'numbered') return [...lines.map((l, k) => `${k + 1}) ${l}`), final].join('\n');
  return [...lines, final].join('\n');
}
