// Comparisons: which of two sums of single digits is larger (or smaller).
import { add, int, type Family } from './common';

export const comparison: Family = {
  name: 'comparison',
  role: 'prior',
  make(rng) {
    const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
    const larger = rng.float() < 0.5;
    const x = a + b;
    const y = c + d;
    const pick = larger ? Math.max(x, y) : Math.min(x, y);
    return {
      question: `Which is ${larger ? 'larger' : 'smaller'}, ${a} + ${b} or ${c} + ${d}?`,
      trace: {
        steps: [add(a, b), add(c, d), { op: larger ? 'max' : 'min', a: x, b: y, c: pick }],
        independent: [[0, 1]],
        answer: String(pick),
      },
    };
  },
};
