// The downstream task: shopping word problems, a problem schema the backbone never saw, built from its
// sub-skills (products, sums, differences, comparisons) and its vocabulary (the fact base's names).
import { add, int, mul, pick, sub, type Family } from './common';
import type { Entity } from './facts';

const ITEMS = ['pens', 'cups', 'books', 'apples', 'cards', 'lamps', 'bowls', 'maps'];

export function shopFamily(base: Entity[]): Family {
  return {
    name: 'shop',
    role: 'downstream',
    make(rng) {
      const who = pick(rng, base).name;
      const kind = rng.int(3);
      if (kind === 0) {
        const n = int(rng, 2, 6);
        const price = int(rng, 2, 6);
        const extra = int(rng, 1, 9);
        const cost = mul(n, price);
        const total = add(n * price, extra);
        return {
          question: `${who} buys ${n} ${pick(rng, ITEMS)} at ${price} coins each and a bag for ${extra} coins. How many coins does ${who} pay?`,
          trace: { steps: [cost, total], independent: [], answer: String(total.c) },
        };
      }
      if (kind === 1) {
        const [has, earns] = [int(rng, 1, 9), int(rng, 1, 9)];
        const spends = int(rng, 1, Math.min(9, has + earns));
        const total = add(has, earns);
        const left = sub(has + earns, spends);
        return {
          question: `${who} has ${has} coins, earns ${earns} more and spends ${spends}. How many coins are left?`,
          trace: { steps: [total, left], independent: [], answer: String(left.c) },
        };
      }
      let other = pick(rng, base).name;
      while (other === who) other = pick(rng, base).name;
      const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
      const s1 = add(a, b);
      const s2 = add(c, d);
      const most = Math.max(a + b, c + d);
      return {
        question: `${who} has ${a} red and ${b} blue beads, ${other} ${c} red and ${d} blue. How many beads has the one with more?`,
        trace: {
          steps: [s1, s2, { op: 'max', a: a + b, b: c + d, c: most }],
          independent: [[0, 1]],
          answer: String(most),
        },
      };
    },
  };
}
