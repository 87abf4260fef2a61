import { Rng } from '../../engine/rng';
import type { ArithmeticStep, Problem, Step, Trace } from '../trace';

export type { Problem, Step, Trace };
export { Rng };

/** A task family: a seeded generator of problems with their solution traces. */
export interface Family {
  name: string;
  role: 'prior' | 'downstream';
  /** Share of the question space held out for the test split (default TEST_SHARE). */
  testShare?: number;
  /** One problem; `rng` is the only source of randomness. */
  make(rng: Rng): Omit<Problem, 'id' | 'family'> & { trainOnly?: boolean };
}

export const int = (rng: Rng, lo: number, hi: number) => lo + rng.int(hi - lo + 1);
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

export function add(a: number, b: number): ArithmeticStep {
  return { op: 'add', a, b, c: a + b };
}
export function sub(a: number, b: number): ArithmeticStep {
  return { op: 'sub', a, b, c: a - b };
}
export function mul(a: number, b: number): ArithmeticStep {
  return { op: 'mul', a, b, c: a * b };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const VOWELS = 'aeiou';
const CONSONANTS = 'bcdfghjklmnprstvwz';

/** A random lowercase word of 3 to `max` letters. */
export function word(rng: Rng, max = 6): string {
  const n = int(rng, 3, max);
  let w = '';
  for (let i = 0; i < n; i++) w += LETTERS[rng.int(26)];
  return w;
}

/** A pronounceable capitalized name, e.g. "Zorbi". */
export function name(rng: Rng): string {
  const syllables = int(rng, 2, 3);
  let n = '';
  for (let i = 0; i < syllables; i++) n += pick(rng, [...CONSONANTS]) + pick(rng, [...VOWELS]);
  if (rng.float() < 0.5) n += pick(rng, [...CONSONANTS]);
  return n[0].toUpperCase() + n.slice(1);
}
