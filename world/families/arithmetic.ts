// Arithmetic with worked steps on single digits: a sum of three, a sum minus a digit, a product plus a
// digit. The shop problems are made of these steps (sums of two digits, differences of digits, products
// of small numbers) and the comparison family's max, so the downstream task composes skills the
// backbone has.
import { add, int, mul, sub, type Family } from './common';

export const arithmetic: Family = {
  name: 'arithmetic',
  role: 'prior',
  // about 1,700 distinct questions: 40% of them make a 500-item benchmark
  testShare: 0.4,
  make(rng) {
    // differences are learned last (sums reach 100%, products 97%, differences 64% with an even
    // share), so half of the problems are differences
    const kind = [0, 1, 1, 2][rng.int(4)];
    if (kind === 2) {
      const a = int(rng, 2, 6);
      const b = int(rng, 2, 6);
      const c = int(rng, 1, 9);
      const p = mul(a, b);
      const s = add(a * b, c);
      return {
        question: `What is ${a} * ${b} + ${c}?`,
        trace: { steps: [p, s], independent: [], answer: String(s.c) },
      };
    }
    const [a, b] = [int(rng, 1, 9), int(rng, 1, 9)];
    const first = add(a, b);
    if (kind === 0) {
      const c = int(rng, 1, 9);
      const total = add(a + b, c);
      return {
        question: `What is ${a} + ${b} + ${c}?`,
        trace: { steps: [first, total], independent: [], answer: String(total.c) },
      };
    }
    const c = int(rng, 1, Math.min(9, a + b));
    const diff = sub(a + b, c);
    return {
      question: `What is ${a} + ${b} - ${c}?`,
      trace: { steps: [first, diff], independent: [], answer: String(diff.c) },
    };
  },
};
