// A user's regular expression (the 'regex' answer extractor) is checked before it runs: JavaScript's
// engine backtracks, so a pattern like (a+)+$ takes exponential time on a long completion. This check
// is pure (no Node APIs): workflows run it on their input, before any activity; matching is also
// time-limited where it runs (method/extract.ts).

/** The largest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 1000;

/**
 * Why `pattern` is refused, or undefined when it may run. Refused: patterns that do not compile, and
 * patterns whose backtracking has no polynomial bound in common engines — a repeated group that itself
 * holds a quantifier or an alternation (star height 2: `(a+)+`, `(a|aa)*`, `(\w+\s?)*`), and
 * backreferences. Such a pattern can almost always be written without the outer repetition.
 */
export function regexProblem(pattern: string, flags = 's'): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `the pattern has more than ${MAX_PATTERN_LENGTH} characters`;
  try {
    new RegExp(pattern, flags);
  } catch (e) {
    return `not a valid regular expression (${(e as Error).message})`;
  }
  interface Frame {
    inner: boolean; // holds a quantifier or an alternation
  }
  const stack: Frame[] = [{ inner: false }];
  /** The length of a quantifier at i ('*', '+', '?', '{n}', '{n,}', '{n,m}', with a lazy '?'), and whether it repeats. */
  const quantifier = (i: number): { len: number; repeats: boolean } | undefined => {
    const c = pattern[i];
    if (c === '*' || c === '+' || c === '?') {
      const len = pattern[i + 1] === '?' ? 2 : 1;
      return { len, repeats: c !== '?' };
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}\??/.exec(pattern.slice(i));
      if (!m) return undefined;
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
      return { len: m[0].length, repeats: max > 1 };
    }
    return undefined;
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<'))
        return `backreferences (\\${next}${next === 'k' ? '<…>' : ''}) are not allowed: they can backtrack without bound`;
      i += 2;
    } else if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '(') {
      stack.push({ inner: false });
      i++;
      if (pattern[i] === '?') {
        // (?:  (?=  (?!  (?<=  (?<!  (?<name>
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(pattern.slice(i));
        i += m ? m[0].length : 1;
      }
      continue;
    } else if (c === '|') {
      stack[stack.length - 1].inner = true;
      i++;
      continue;
    } else if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : { inner: false };
      i++;
      const q = quantifier(i);
      if (q) {
        if (q.repeats && group.inner)
          return `a repeated group holds a quantifier or an alternation (near character ${i}: "${pattern.slice(Math.max(0, i - 20), i + q.len)}"), which can backtrack exponentially; remove the outer repetition or make the parts unambiguous`;
        i += q.len;
      }
      if (q || group.inner) stack[stack.length - 1].inner = true;
      continue;
    } else i++;
    const q = quantifier(i);
    if (q) {
      stack[stack.length - 1].inner = true;
      i += q.len;
    }
  }
  return undefined;
}
