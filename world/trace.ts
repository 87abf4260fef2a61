// Solutions as data: a solution is a list of steps (each one operation with its operands and result)
// and a final answer. Stylers (styles.ts) render the same trace in different styles, so a rewrite in
// another style keeps every step and the answer, by construction.

export type ArithmeticStep = { op: 'add' | 'sub' | 'mul'; a: number; b: number; c: number };

export type Step =
  | ArithmeticStep
  | { op: 'max' | 'min'; a: number; b: number; c: number }
  | { op: 'spell'; word: string }
  | { op: 'reverse'; word: string }
  | { op: 'count'; word: string; letter: string; n: number }
  | { op: 'recall'; entity: string; attribute: string; value: string };

export interface Trace {
  steps: Step[];
  /**
   * Groups of step indices that do not depend on each other and may be written in any order (for
   * example the two sums before a comparison). Steps outside every group keep their place.
   */
  independent: number[][];
  answer: string;
}

export interface Problem {
  id: string;
  family: string;
  question: string;
  trace: Trace;
}
