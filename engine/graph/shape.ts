import type { Dim, Shape } from './graph';

export function dimEq(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]));
}

export function isStatic(s: Shape): s is number[] {
  return s.every((d) => typeof d === 'number');
}

export function fmt(s: Shape): string {
  return `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

/** Numpy-style broadcast of shapes; throws naming `op` when two known sizes disagree. */
export function broadcast(op: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + i];
      if (e === undefined || e === 1) continue;
      if (d === 1) d = e;
      else if (d === e) continue;
      else if (typeof d === 'number' && typeof e === 'number')
        throw new Error(`${op}: cannot broadcast shapes ${shapes.map(fmt).join(' and ')}`);
      else if (typeof e === 'number') d = e;
      else if (typeof d !== 'number') d = null;
    }
    out.push(d);
  }
  return out;
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Product of dims, or null when any is not a known number. */
export function dimProduct(dims: readonly Dim[]): number | null {
  let n = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}
