// Look-ups in a synthetic fact base. Every entity's facts are asked one at a time in training only;
// the benchmark asks held-out combinations (how many cats two people have together, who has more or
// fewer) over those same facts, so it measures knowledge the backbone memorized, composed in new ways.
import { add, int, name, pick, Rng, type Family } from './common';

export const CITIES = [
  'Tavel',
  'Morn',
  'Kesh',
  'Ulda',
  'Brin',
  'Sorra',
  'Pell',
  'Gath',
  'Ivra',
  'Dune',
  'Holt',
  'Zeff',
];

export interface Entity {
  name: string;
  cats: number;
  city: string;
}

export function factBase(seed: number, size = 32): Entity[] {
  const rng = new Rng(seed ^ 0x5eed);
  const seen = new Set<string>();
  const entities: Entity[] = [];
  while (entities.length < size) {
    const n = name(rng);
    if (seen.has(n) || n.length > 7) continue;
    seen.add(n);
    entities.push({ name: n, cats: int(rng, 1, 9), city: pick(rng, CITIES) });
  }
  return entities;
}

/** Another entity than `e`, drawn from the base. */
export function pickOther(rng: Rng, base: Entity[], e: Entity): Entity {
  let f = pick(rng, base);
  while (f === e) f = pick(rng, base);
  return f;
}

export function factsFamily(base: Entity[]): Family {
  return {
    name: 'facts',
    role: 'prior',
    make(rng) {
      const kind = rng.int(5);
      const e = pick(rng, base);
      if (kind === 0) {
        return {
          question: `How many cats does ${e.name} have?`,
          trainOnly: true,
          trace: {
            steps: [{ op: 'recall', entity: e.name, attribute: 'cats', value: String(e.cats) }],
            independent: [],
            answer: String(e.cats),
          },
        };
      }
      if (kind === 1) {
        return {
          question: `Where does ${e.name} live?`,
          trainOnly: true,
          trace: {
            steps: [{ op: 'recall', entity: e.name, attribute: 'city', value: e.city }],
            independent: [],
            answer: e.city,
          },
        };
      }
      const f = pickOther(rng, base, e);
      const recallE = { op: 'recall' as const, entity: e.name, attribute: 'cats', value: String(e.cats) };
      const recallF = { op: 'recall' as const, entity: f.name, attribute: 'cats', value: String(f.cats) };
      if (kind === 2) {
        const total = add(e.cats, f.cats);
        return {
          question: `How many cats do ${e.name} and ${f.name} have together?`,
          trace: { steps: [recallE, recallF, total], independent: [[0, 1]], answer: String(total.c) },
        };
      }
      if (e.cats === f.cats) return this.make(rng);
      const more = kind === 3;
      const chosen = e.cats > f.cats === more ? e : f;
      return {
        question: `Who has ${more ? 'more' : 'fewer'} cats, ${e.name} or ${f.name}?`,
        trace: {
          steps: [recallE, recallF, { op: more ? 'max' : 'min', a: e.cats, b: f.cats, c: chosen.cats }],
          independent: [[0, 1]],
          answer: chosen.name,
        },
      };
    },
  };
}
