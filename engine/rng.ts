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

/** Deterministic shuffled data order; its position is all that needs saving. */
export class DataOrder {
  private perm: number[] = [];
  private permEpoch = -1;

  constructor(
    readonly size: number,
    readonly seed: number,
    public position: DataPosition = { epoch: 0, index: 0 },
  ) {
    if (!(size > 0)) throw new Error('DataOrder: size must be positive');
  }

  private permutation(epoch: number): number[] {
    if (epoch !== this.permEpoch) {
      const r = new Rng((this.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
      const p = [...Array(this.size).keys()];
      for (let i = p.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [p[i], p[j]] = [p[j], p[i]];
      }
      this.perm = p;
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  /** The next `n` example indices, crossing epochs as needed. */
  next(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      const p = this.permutation(this.position.epoch);
      out.push(p[this.position.index++]);
      if (this.position.index === this.size) this.position = { epoch: this.position.epoch + 1, index: 0 };
    }
    return out;
  }
}
