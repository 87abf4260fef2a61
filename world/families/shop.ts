// The downstream task: shopping word problems, a problem schema the backbone never saw, built from its
// sub-skills (products, sums, differences, comparisons) and its vocabulary (the fact base's names).
// Every problem compares two people, so its two computations are independent and the foreign style's
// reversed order shows in every reference solution, not only in some.
import type { ArithmeticStep } from '../trace';
import { add, int, mul, pick, sub, type Family } from './common';
import { pickOther, type Entity } from './facts';

const ITEMS = ['pens', 'cups', 'books', 'apples', 'cards', 'lamps', 'bowls', 'maps'];

export function shopFamily(base: Entity[]): Family {
  return {
    name: 'shop',
    role: 'downstream',
    make(rng) {
      const person = pick(rng, base);
      const [who, other] = [person.name, pickOther(rng, base, person).name];
      const kind = rng.int(3);
      let question: string;
      let first: ArithmeticStep;
      let second: ArithmeticStep;
      if (kind === 0) {
        const [n, p, m, q] = [int(rng, 2, 6), int(rng, 2, 6), int(rng, 2, 6), int(rng, 2, 6)];
        [first, second] = [mul(n, p), mul(m, q)];
        question = `${who} buys ${n} ${pick(rng, ITEMS)} at ${p} coins each, ${other} ${m} ${pick(rng, ITEMS)} at ${q} coins each. How much does the one who pays more pay?`;
      } else if (kind === 1) {
        const [a, b, c] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
        const d = int(rng, 1, c);
        [first, second] = [add(a, b), sub(c, d)];
        question = `${who} has ${a} coins and earns ${b}, ${other} has ${c} coins and spends ${d}. How many coins has the one with more?`;
      } else {
        const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
        [first, second] = [add(a, b), add(c, d)];
        question = `${who} has ${a} red and ${b} blue beads, ${other} ${c} red and ${d} blue. How many beads has the one with more?`;
      }
      const most = Math.max(first.c, second.c);
      return {
        question,
        trace: {
          steps: [first, second, { op: 'max', a: first.c, b: second.c, c: most }],
          independent: [[0, 1]],
          answer: String(most),
        },
      };
    },
  };
}
