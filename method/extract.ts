// Final-answer extractors. Strict: the answer as the task's format demands it (for \boxed{}, the
// content of the last box, exactly). Lenient: forgiving about form (spacing, case, trailing
// punctuation, "12.0" for "12", and the last number when no box is there), never about content.
import { createContext, Script } from 'node:vm';
import type { BenchmarkSpecInput } from '../schemas';
import { regexProblem } from '../schemas/regex-safety';

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

/** A user's extractor that cannot run (an unsafe or too slow pattern): bad input, retrying cannot fix it. */
export class ExtractorError extends Error {
  override name = 'ExtractorError';
}

/** How long one match of a user's pattern may run. */
export const REGEX_TIME_LIMIT_MS = 250;

const regexContext = createContext({});
const regexScript = new Script(
  '(() => { const m = new RegExp(pattern, flags).exec(text); return m && [m[0], m[1]]; })()',
);
const checked = new Map<string, string | undefined>();

/**
 * The first match of a user's pattern (and its first group), run in a separate V8 context with a time
 * limit: even a pattern that slipped past regexProblem cannot hang the worker.
 */
export function timedMatch(pattern: string, flags: string, text: string): [string, string | undefined] | null {
  const key = `${flags}/${pattern}`;
  if (!checked.has(key)) {
    if (checked.size > 1000) checked.clear();
    checked.set(key, regexProblem(pattern, flags));
  }
  const problem = checked.get(key);
  if (problem) throw new ExtractorError(`extractor.pattern ${JSON.stringify(pattern)}: ${problem}`);
  Object.assign(regexContext, { pattern, flags, text });
  try {
    const m = regexScript.runInContext(regexContext, { timeout: REGEX_TIME_LIMIT_MS }) as [string, string] | null;
    return m ? [m[0], m[1]] : null;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
      throw new ExtractorError(
        `extractor.pattern ${JSON.stringify(pattern)} ran for more than ${REGEX_TIME_LIMIT_MS} ms on a text of ${text.length} characters (it backtracks too much); simplify it`,
      );
    throw e;
  } finally {
    Object.assign(regexContext, { text: '' });
  }
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
      // letters and digits only: anything else would change the character class
      const letters = (extractor.choices ?? 'ABCDE').replace(/[^A-Za-z0-9]/g, '') || 'ABCDE';
      const re = new RegExp(`\\b([${letters}])\\b`, mode === 'strict' ? 'g' : 'gi');
      const all = [...text.matchAll(re)];
      raw = all.length ? all[all.length - 1][1].toUpperCase() : undefined;
      break;
    }
    case 'exact':
      raw = text;
      break;
    case 'regex': {
      if (!extractor.pattern) throw new ExtractorError('extractor "regex" needs a pattern');
      const m = timedMatch(extractor.pattern, mode === 'lenient' ? 'is' : 's', text);
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
