// Arithmetic with worked steps: two independent pair sums combined, or a product and a sum.
import { add, int, mul, sub, type Family } from './common';

export const arithmetic: Family = {
  name: 'arithmetic',
  role: 'prior',
  make(rng) {
    const kind = rng.int(3);
    if (kind === 2) {
      const a = int(rng, 2, 9);
      const b = int(rng, 2, 9);
      const c = int(rng, 1, 40);
      const p = mul(a, b);
      const s = add(a * b, c);
      return {
        question: `What is ${a} * ${b} + ${c}?`,
        trace: { steps: [p, s], independent: [], answer: String(s.c) },
      };
    }
    const [a, b, c, d] = [int(rng, 1, 49), int(rng, 1, 49), int(rng, 1, 49), int(rng, 1, 49)];
    const left = add(a, b);
    const right = add(c, d);
    if (kind === 0 || a + b < c + d) {
      const total = add(a + b, c + d);
      return {
        question: `What is ${a} + ${b} + ${c} + ${d}?`,
        trace: { steps: [left, right, total], independent: [[0, 1]], answer: String(total.c) },
      };
    }
    const diff = sub(a + b, c + d);
    return {
      question: `What is (${a} + ${b}) - (${c} + ${d})?`,
      trace: { steps: [left, right, diff], independent: [[0, 1]], answer: String(diff.c) },
    };
  },
};
