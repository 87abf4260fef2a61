// Arithmetic with worked steps on single digits: two independent pair sums combined, or a product and a
// sum. Small numbers keep the arithmetic a skill a tiny backbone masters in minutes.
import { add, int, mul, sub, type Family } from './common';

export const arithmetic: Family = {
  name: 'arithmetic',
  role: 'prior',
  make(rng) {
    const kind = rng.int(3);
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
    const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
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
