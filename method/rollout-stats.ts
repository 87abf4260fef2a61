// Per-rollout statistics of the RL rewriter's metrics: copying of y*, distance to it,
// distinct-n of the rewrites, reward ties within groups, and the seeded prompt order of the RL steps.
import { epochRng, shuffle } from '../engine/rng';
import { distinctN } from './diversity';

/** Whitespace runs as one space, ends trimmed: what a copy of y* is judged on. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A rewrite that equals y* after whitespace normalization. */
export function isCopy(rewrite: string, reference: string): boolean {
  return normalizeWhitespace(rewrite) === normalizeWhitespace(reference);
}

/** Share of rewrites equal to their y* after whitespace normalization (0 for none). */
export function copyRate(pairs: { rewrite: string; reference: string }[]): number {
  return pairs.length ? pairs.filter((p) => isCopy(p.rewrite, p.reference)).length / pairs.length : 0;
}

/**
 * Levenshtein distance between the characters (UTF-16 code units) of two strings, computed only within
 * `bound` of the diagonal (Ukkonen's band): O(min(n, m) * bound) time, O(min(n, m)) memory. Returns the
 * exact distance when it is at most `bound`, and `bound + 1` otherwise.
 */
export function levenshtein(a: string, b: string, bound = Math.max(a.length, b.length)): number {
  if (a.length < b.length) [a, b] = [b, a]; // b is the shorter: the rows run over it
  const n = a.length;
  const m = b.length;
  const k = Math.max(0, Math.floor(bound));
  if (n - m > k) return k + 1;
  if (m === 0) return n;
  const over = k + 1;
  let prev = new Array<number>(m + 1);
  let cur = new Array<number>(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j <= k ? j : over;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - k);
    const hi = Math.min(m, i + k);
    // only the band and its two borders are written; the next row reads nothing else
    cur[lo - 1] = lo === 1 ? Math.min(i, over) : over;
    let rowMin = cur[lo - 1];
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      const v = Math.min(sub, prev[j] + 1, cur[j - 1] + 1, over);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < m) cur[hi + 1] = over;
    if (rowMin > k) return over;
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[m], over);
}

/**
 * Edit distance normalized by the longer length, in [0, 1] (0 for two empty strings). With
 * `maxShare` < 1 the cost is bounded: distances above maxShare * the longer length are reported as 1.
 */
export function normalizedEditDistance(a: string, b: string, maxShare = 1): number {
  const longest = Math.max(a.length, b.length);
  if (longest === 0) return 0;
  const bound = Math.ceil(Math.min(1, maxShare) * longest);
  const d = levenshtein(a, b, bound);
  return d > bound ? 1 : d / longest;
}

/** distinct-1, -2 and -3 of a set of texts (distinct n-grams over all n-grams, whitespace tokens). */
export function distinctNs(texts: string[]): { distinct1: number; distinct2: number; distinct3: number } {
  return { distinct1: distinctN(texts, 1), distinct2: distinctN(texts, 2), distinct3: distinctN(texts, 3) };
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0;
}

/** Population standard deviation (as GRPO's group normalisation uses); 0 for fewer than two values. */
export function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
}

/** Share of groups whose rewards are all equal (within `tolerance`): groups that give no GRPO signal. */
export function tiedGroupShare(groups: number[][], tolerance = 1e-12): number {
  if (groups.length === 0) return 0;
  const tied = groups.filter((g) => g.length === 0 || Math.max(...g) - Math.min(...g) <= tolerance).length;
  return tied / groups.length;
}

/**
 * The prompt indices (into a pool of `poolSize`) of RL step `step`: `perStep` prompts a step, drawn
 * without replacement within an epoch from a permutation reshuffled each epoch. A pure function of
 * (seed, step), so a resumed run rebuilds the same batches. A step that crosses an epoch boundary takes
 * the end of one permutation and the start of the next, so it may hold a prompt twice.
 */
export function promptsForStep(poolSize: number, perStep: number, seed: number, step: number): number[] {
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`promptsForStep: poolSize ${poolSize}`);
  if (!Number.isInteger(perStep) || perStep < 1) throw new Error(`promptsForStep: perStep ${perStep}`);
  if (!Number.isInteger(step) || step < 0) throw new Error(`promptsForStep: step ${step}`);
  const out: number[] = [];
  let epoch = -1;
  let order: number[] = [];
  for (let i = step * perStep; i < (step + 1) * perStep; i++) {
    if (Math.floor(i / poolSize) !== epoch) {
      epoch = Math.floor(i / poolSize);
      order = shuffle([...Array(poolSize).keys()], epochRng(seed >>> 0, epoch));
    }
    out.push(order[i % poolSize]);
  }
  return out;
}
