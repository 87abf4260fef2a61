// Counting: how often a letter occurs in two three-letter words together.
import { add, pick, type Family } from './common';
import type { Rng } from './common';

// three letters: with four the tiny backbone miscounts about a third of the pairs
function wordWith(rng: Rng, letter: string): string {
  let w = '';
  for (let i = 0; i < 3; i++) w += rng.float() < 0.3 ? letter : 'abcdefghijklmnopqrstuvwxyz'[rng.int(26)];
  return w;
}

export const counting: Family = {
  name: 'counting',
  role: 'prior',
  make(rng) {
    const letter = pick(rng, [...'abcdeilmnorst']);
    const w1 = wordWith(rng, letter);
    const w2 = wordWith(rng, letter);
    const n1 = [...w1].filter((c) => c === letter).length;
    const n2 = [...w2].filter((c) => c === letter).length;
    return {
      question: `How many times does ${letter} appear in ${w1} and ${w2}?`,
      trace: {
        steps: [{ op: 'count', word: w1, letter, n: n1 }, { op: 'count', word: w2, letter, n: n2 }, add(n1, n2)],
        independent: [[0, 1]],
        answer: String(n1 + n2),
      },
    };
  },
};
