// Story problems seen only inside rewriting examples, never asked after "Answer:" and never benchmarked.
// They are new problem schemas over the prior's steps and the fact base's names, so the rewriting skill
// learns to copy the given solution's steps rather than to solve a familiar question: a rewrite prompt
// holding a problem the backbone cannot solve (the downstream task) is then not out of distribution.
// None of them is a schema of the downstream family (world/families/shop.ts).
import { add, int, mul, pick, sub, type Family } from './common';
import { pickOther, type Entity } from './facts';

export function storiesFamily(base: Entity[]): Family {
  return {
    name: 'stories',
    role: 'prior',
    make(rng) {
      const person = pick(rng, base);
      const who = person.name;
      const kind = rng.int(4);
      if (kind === 0) {
        const [a, b, c] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
        const first = add(a, b);
        const total = add(a + b, c);
        return {
          question: `${who} reads ${a} pages, then ${b} more, then ${c} more. How many pages does ${who} read?`,
          trace: { steps: [first, total], independent: [], answer: String(total.c) },
          trainOnly: true,
        };
      }
      if (kind === 1) {
        const [n, k, e] = [int(rng, 2, 6), int(rng, 2, 6), int(rng, 1, 9)];
        const eggs = mul(n, k);
        const total = add(n * k, e);
        return {
          question: `${who} packs ${n} boxes of ${k} eggs and has ${e} loose eggs. How many eggs are there?`,
          trace: { steps: [eggs, total], independent: [], answer: String(total.c) },
          trainOnly: true,
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
          trainOnly: true,
        };
      }
      const other = pickOther(rng, base, person).name;
      const [a, b, c, d] = [int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9), int(rng, 1, 9)];
      const least = Math.min(a + b, c + d);
      return {
        question: `${who} walks ${a} and ${b} miles. ${other} walks ${c} and ${d} miles. How many miles does the one who walks less walk?`,
        trace: {
          steps: [add(a, b), add(c, d), { op: 'min', a: a + b, b: c + d, c: least }],
          independent: [[0, 1]],
          answer: String(least),
        },
        trainOnly: true,
      };
    },
  };
}
