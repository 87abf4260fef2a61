// String manipulation: reverse a word, letter by letter.
import { word, type Family } from './common';

export const strings: Family = {
  name: 'strings',
  role: 'prior',
  make(rng) {
    const w = word(rng, 4);
    const reversed = [...w].reverse().join('');
    return {
      question: `Reverse the word ${w}.`,
      trace: {
        steps: [
          { op: 'spell', word: w },
          { op: 'reverse', word: w },
        ],
        independent: [],
        answer: reversed,
      },
    };
  },
};
