// Look-ups in a synthetic fact base. Every entity's facts are asked one at a time in training only;
// the benchmark asks held-out combinations (sums of two ages, who is older) over those same facts, so
// it measures knowledge the backbone memorized, composed in new ways.
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
  age: number;
  city: string;
}

export function factBase(seed: number, size = 48): Entity[] {
  const rng = new Rng(seed ^ 0x5eed);
  const seen = new Set<string>();
  const entities: Entity[] = [];
  while (entities.length < size) {
    const n = name(rng);
    if (seen.has(n) || n.length > 7) continue;
    seen.add(n);
    entities.push({ name: n, age: int(rng, 10, 59), city: pick(rng, CITIES) });
  }
  return entities;
}

export function factsFamily(base: Entity[]): Family {
  return {
    name: 'facts',
    role: 'prior',
    make(rng) {
      const kind = rng.int(4);
      const e = pick(rng, base);
      if (kind === 0) {
        return {
          question: `How old is ${e.name}?`,
          trainOnly: true,
          trace: {
            steps: [{ op: 'recall', entity: e.name, attribute: 'age', value: String(e.age) }],
            independent: [],
            answer: String(e.age),
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
      let f = pick(rng, base);
      while (f === e) f = pick(rng, base);
      const recallE = { op: 'recall' as const, entity: e.name, attribute: 'age', value: String(e.age) };
      const recallF = { op: 'recall' as const, entity: f.name, attribute: 'age', value: String(f.age) };
      if (kind === 2) {
        const total = add(e.age, f.age);
        return {
          question: `What is ${e.name}'s age plus ${f.name}'s age?`,
          trace: { steps: [recallE, recallF, total], independent: [[0, 1]], answer: String(total.c) },
        };
      }
      if (e.age === f.age) return this.make(rng);
      const older = e.age > f.age ? e : f;
      return {
        question: `Who is older, ${e.name} or ${f.name}?`,
        trace: {
          steps: [recallE, recallF, { op: 'max', a: e.age, b: f.age, c: older.age }],
          independent: [[0, 1]],
          answer: older.name,
        },
      };
    },
  };
}
