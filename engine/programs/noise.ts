/**
 * Sampling noise as a pure function of (seed, record id, token position): uniform values in [0, 1)
 * with 24 bits (exact in float32, never 1). A record's samples never depend on its batch or shard.
 */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const b = new TextEncoder().encode(s);
  for (const x of b) {
    h ^= x;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The uniform value for one token position. */
export function noiseAt(seed: number, recordHash: number, position: number): number {
  let h = mix((seed >>> 0) ^ 0x9e3779b9);
  h = mix(h ^ recordHash);
  h = mix(h ^ Math.imul(position + 1, 0x85ebca6b));
  return (h >>> 8) / 2 ** 24;
}

/** Uniform noise for positions 0..n-1 of record `id` under `seed`. */
export function samplingNoise(seed: number, id: string, n: number): Float32Array {
  const rh = mix(fnv1a(id));
  const out = new Float32Array(n);
  for (let t = 0; t < n; t++) out[t] = noiseAt(seed, rh, t);
  return out;
}
