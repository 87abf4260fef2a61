// Final-answer extractors. Strict: the answer as the task's format demands it (for \boxed{}, the
// content of the last box, exactly). Lenient: forgiving about form (spacing, case, trailing
// punctuation, "12.0" for "12", and the last number when no box is there), never about content.
import type { BenchmarkSpecInput } from '../schemas';

export type Extractor = BenchmarkSpecInput['extractor'];

export type Mode = 'strict' | 'lenient';

/** The content of the last \boxed{...}, with balanced braces; undefined when there is none. */
export function lastBoxed(text: string): string | undefined {
  const start = text.lastIndexOf('\\boxed{');
  if (start < 0) return undefined;
  let depth = 0;
  for (let i = start + 7; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}') {
      if (depth === 0) return text.slice(start + 7, i);
      depth--;
    }
  }
  return undefined;
}

export function lastNumber(text: string): string | undefined {
  const all = text.match(/-?\d+(?:\.\d+)?/g);
  return all?.[all.length - 1];
}

function normalize(answer: string): string {
  let a = answer.trim().toLowerCase().replace(/\s+/g, ' ');
  a = a
    .replace(/[.,;:!]+$/, '')
    .replace(/^\$(.*)\$$/, '$1')
    .trim();
  if (/^-?\d+(\.\d+)?$/.test(a)) a = String(Number(a));
  return a;
}

/** The extracted answer, or undefined when the completion has none in the required form. */
export function extract(text: string, extractor: Extractor, mode: Mode): string | undefined {
  let raw: string | undefined;
  switch (extractor.kind) {
    case 'boxed':
      raw = lastBoxed(text);
      if (raw === undefined && mode === 'lenient') raw = lastNumber(text);
      break;
    case 'last-number':
      raw = lastNumber(text);
      break;
    case 'choice': {
      const letters = extractor.choices ?? 'ABCDE';
      const re = new RegExp(`\\b([${letters}])\\b`, mode === 'strict' ? 'g' : 'gi');
      const all = [...text.matchAll(re)];
      raw = all.length ? all[all.length - 1][1].toUpperCase() : undefined;
      break;
    }
    case 'exact':
      raw = text;
      break;
    case 'regex': {
      if (!extractor.pattern) throw new Error('extractor "regex" needs a pattern');
      const m = new RegExp(extractor.pattern, mode === 'lenient' ? 'is' : 's').exec(text);
      raw = m?.[1] ?? m?.[0];
      break;
    }
    case 'json': {
      const m = /\{[\s\S]*\}/.exec(text);
      if (m) {
        try {
          raw = JSON.stringify(JSON.parse(m[0]));
        } catch {
          raw = undefined;
        }
      }
      break;
    }
  }
  if (raw === undefined) return undefined;
  return mode === 'strict' ? raw.trim() : normalize(raw);
}

/** Whether the completion's answer equals the gold answer (the gold is normalized the same way). */
export function isCorrect(completion: string, gold: string, extractor: Extractor, mode: Mode): boolean {
  const got = extract(completion, extractor, mode);
  if (got === undefined) return false;
  return mode === 'strict' ? got === gold.trim() : got === normalize(gold);
}
