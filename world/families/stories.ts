// Story problems seen only inside rewriting examples, never asked after "Answer:" and never benchmarked.
// They are new problem schemas over the prior's steps and the fact base's names, so the rewriting skill
// learns to copy the given solution's steps rather than to solve a familiar question: a rewrite prompt
// holding a problem the backbone cannot solve (the downstream task) is then not out of distribution.
// Four fixed schemas alone bound that skill to them (a backbone pretrained on them copied their steps
// 83-85% of the time and a shop solution's 0-3%), so most stories are composed at random from clauses:
// chains of one to three operations, and two people's computations compared by max or min. None of
// them is a schema of the downstream family (world/families/shop.ts): its items, coins and beads, and
// its verbs, never occur here.
import type { ArithmeticStep } from '../trace';
import { add, int, mul, pick, sub, type Family, type Rng, type Step, type Trace } from './common';
import { pickOther, type Entity } from './facts';

/** The verb every story's first clause starts with (after the name): how a story is recognized. */
export const STORY_VERBS = [
  'reads',
  'packs',
  'bakes',
  'walks',
  'finds',
  'picks',
  'stacks',
  'plants',
  'keeps',
  'counts',
];
const NOUNS = ['shells', 'stones', 'nuts', 'leaves', 'stamps', 'shirts', 'plums', 'seeds', 'bricks', 'ropes'];
const CONTAINERS = ['bags', 'rows', 'jars', 'crates', 'piles'];
const GAIN = ['then finds', 'then gets', 'then picks', 'then adds'];
const LOSS = ['then loses', 'then drops', 'then eats', 'then gives away'];

const VAGUE = ['some', 'a few', 'several', 'a number of'];

/**
 * How much of its solution a composed story's question gives away: everything, the structure without
 * the numbers, or nothing but who and what. A backbone pretrained only on questions that determine their
 * solution learned to solve the composed stories from the question (78-93% of rewrites right) and still
 * copied a shop solution's steps in 3-12%: the skill to transfer is copying, so most composed stories can
 * only be rewritten by copying the given solution's numbers, or its whole steps.
 */
type Reveal = 'all' | 'structure' | 'none';
const REVEAL_SHARES: [Reveal, number][] = [
  ['all', 0.4],
  ['structure', 0.3],
  ['none', 0.3],
];

function reveal(rng: Rng): Reveal {
  let r = rng.float();
  for (const [level, share] of REVEAL_SHARES) if ((r -= share) < 0) return level;
  return 'all';
}

/** A number as the question states it: itself, or a vague amount when the numbers are hidden. */
const say = (rng: Rng, level: Reveal, n: number) => (level === 'all' ? String(n) : pick(rng, VAGUE));

/** One operation on two small numbers, phrased as a clause about a noun; its step. */
function clause(
  rng: Rng,
  noun: string,
  op: ArithmeticStep['op'],
  level: Reveal,
): { text: string; step: ArithmeticStep } {
  const verb = pick(rng, STORY_VERBS);
  let step: ArithmeticStep;
  let text: string;
  if (op === 'mul') {
    step = mul(int(rng, 2, 6), int(rng, 2, 6));
    text = `${verb} ${say(rng, level, step.a)} ${pick(rng, CONTAINERS)} of ${say(rng, level, step.b)} ${noun}`;
  } else if (op === 'add') {
    step = add(int(rng, 1, 9), int(rng, 1, 9));
    text = `${verb} ${say(rng, level, step.a)} ${noun} and ${say(rng, level, step.b)} more`;
  } else {
    const a = int(rng, 1, 9);
    step = sub(a, int(rng, 1, a));
    text = `${verb} ${say(rng, level, step.a)} ${noun} and ${pick(rng, ['loses', 'drops', 'eats'])} ${say(rng, level, step.b)}`;
  }
  return { text: level === 'none' ? `${verb} some ${noun}` : text, step };
}

/** A chain: one clause, then one or two more operations on its result. */
function chain(rng: Rng, who: string): { question: string; trace: Trace } {
  const noun = pick(rng, NOUNS);
  const level = reveal(rng);
  const first = clause(rng, noun, pick(rng, ['add', 'sub', 'mul'] as const), level);
  const steps: Step[] = [first.step];
  const parts = [`${who} ${first.text}`];
  let value = first.step.c;
  for (let i = int(rng, 0, 2); i > 0; i--) {
    const kind = rng.int(value <= 20 ? 3 : 2);
    let step: ArithmeticStep;
    if (kind === 0) {
      step = add(value, int(rng, 1, 9));
      parts.push(`${pick(rng, GAIN)} ${say(rng, level, step.b)}`);
    } else if (kind === 1 && value > 1) {
      step = sub(value, int(rng, 1, Math.min(9, value - 1)));
      parts.push(`${pick(rng, LOSS)} ${say(rng, level, step.b)}`);
    } else {
      step = mul(value, int(rng, 2, 3));
      parts.push(step.b === 2 ? 'then doubles them' : 'then triples them');
    }
    steps.push(step);
    value = step.c;
  }
  return {
    question: `${level === 'none' ? parts[0] : parts.join(', ')}. How many ${noun} are there at the end?`,
    trace: { steps, independent: [], answer: String(value) },
  };
}

/** Two people's computations, then the larger or the smaller result. */
function compare(rng: Rng, who: string, other: string): { question: string; trace: Trace } {
  const noun = pick(rng, NOUNS);
  const ops = ['add', 'sub', 'mul'] as const;
  const level = reveal(rng);
  const [x, y] = [clause(rng, noun, pick(rng, ops), level), clause(rng, noun, pick(rng, ops), level)];
  const op = rng.int(2) === 0 ? 'max' : 'min';
  const c = op === 'max' ? Math.max(x.step.c, y.step.c) : Math.min(x.step.c, y.step.c);
  const ask = op === 'max' ? 'more' : 'fewer';
  return {
    question: `${who} ${x.text}. ${other} ${y.text}. How many ${noun} are left to the one with ${ask}?`,
    trace: { steps: [x.step, y.step, { op, a: x.step.c, b: y.step.c, c }], independent: [[0, 1]], answer: String(c) },
  };
}

/** The four fixed schemas the world began with. */
function fixed(rng: Rng, who: string, other: string): { question: string; trace: Trace } {
  const kind = rng.int(4);
  if (kind === 0) {
    const [a, b, c] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
    const first = add(a, b);
    const total = add(a + b, c);
    return {
      question: `${who} reads ${a} pages, then ${b} more, then ${c} more. How many pages does ${who} read?`,
      trace: { steps: [first, total], independent: [], answer: String(total.c) },
    };
  }
  if (kind === 1) {
    const [n, k, e] = [int(rng, 2, 6), int(rng, 2, 6), int(rng, 1, 9)];
    const eggs = mul(n, k);
    const total = add(n * k, e);
    return {
      question: `${who} packs ${n} boxes of ${k} eggs and has ${e} loose eggs. How many eggs are there?`,
      trace: { steps: [eggs, total], independent: [], answer: String(total.c) },
    };
  }
  if (kind === 2) {
    const [a, b] = [int(rng, 1, 9), int(rng, 1, 9)];
    const c = int(rng, 1, Math.min(9, a + b));
    const baked = add(a, b);
    const left = sub(a + b, c);
    return {
      question: `${who} bakes ${a} buns and ${b} rolls and gives away ${c}. How many are left?`,
      trace: { steps: [baked, left], independent: [], answer: String(left.c) },
    };
  }
  const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
  const least = Math.min(a + b, c + d);
  return {
    question: `${who} walks ${a} and ${b} miles. ${other} walks ${c} and ${d} miles. How many miles does the one who walks less walk?`,
    trace: {
      steps: [add(a, b), add(c, d), { op: 'min', a: a + b, b: c + d, c: least }],
      independent: [[0, 1]],
      answer: String(least),
    },
  };
}

/** Shares of the fixed schemas and of the composed chains; the rest are composed comparisons. */
const FIXED_SHARE = 0.15;
const CHAIN_SHARE = 0.35;

export function storiesFamily(base: Entity[]): Family {
  return {
    name: 'stories',
    role: 'prior',
    make(rng) {
      const person = pick(rng, base);
      const other = pickOther(rng, base, person).name;
      const r = rng.float();
      const story =
        r < FIXED_SHARE
          ? fixed(rng, person.name, other)
          : r < FIXED_SHARE + CHAIN_SHARE
            ? chain(rng, person.name)
            : compare(rng, person.name, other);
      return { ...story, trainOnly: true };
    },
  };
}
