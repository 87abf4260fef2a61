/**
 * Uniform numbers in [0, 1) from a 32-bit xorshift: the cheap stream that deterministic random
 * weights are drawn from (seed 0 acts as 1).
 */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/**
 * A small seeded generator with a serializable state (xoshiro128**, seeded through splitmix32), so
 * training resumes bit-exactly: save `state()`, restore with `Rng.fromState()`.
 */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  static fromState(state: number[]): Rng {
    if (
      state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32) ||
      state.every((v) => v === 0)
    )
      throw new Error(`Rng.fromState: invalid state ${JSON.stringify(state)}`);
    const r = new Rng(0);
    r.s = Uint32Array.from(state);
    return r;
  }

  state(): number[] {
    return [...this.s];
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Position in a dataset visited in a fresh seeded permutation each epoch. */
export interface DataPosition {
  epoch: number;
  index: number;
}

/** The generator of one epoch's shuffles, a pure function of (seed, epoch). */
export function epochRng(seed: number, epoch: number): Rng {
  return new Rng((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
}

/** Fisher-Yates, in place. */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
