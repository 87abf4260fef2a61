// The packed layout of a training batch: every example's tokens one after another in one flat
// stream, so the position-wise work (projections, norms, MLP, LM head) runs on the real tokens only,
// never on padding (the embedded world's pretraining batches mix 70- and 370-token examples, and even
// its short batches pad a fifth of their tokens). Only attention needs a sequence layout: it runs in
// blocks, each a few examples of similar length padded to one width (groups by length), and within
// a group in causal chunks of queries, each attending to the keys up to its end (causality skips the
// rest). The loss is the same token mean; only the order of float sums changes.

export interface PackItem {
  /** Tokens of the example (prompt then trained tail). */
  tokens: number[];
  /** Index of the first trained token (>= 1: it is predicted from the token before it). */
  firstTrained: number;
}

/** One attention block: per example of the block, the flat rows of its queries and of its keys. */
export interface AttentionBlock {
  queries: number[][];
  keys: number[][];
}

export interface PackedLayout {
  /** The flat stream: token and position (from 0 in each example) of each row. */
  tokens: number[];
  positions: number[];
  /** Trained tokens: the flat row whose logits predict each, and the token. */
  pred: number[];
  target: number[];
  /** groups x chunks blocks (group-major); a block of a group that did not form has no examples. */
  blocks: AttentionBlock[];
  chunks: number;
}

/**
 * Splits lengths sorted longest first into at most `groups` runs minimising the attention work,
 * sum over groups of (examples x longest^2); returns the runs' end indices.
 */
export function lengthGroups(sorted: number[], groups: number): number[] {
  const n = sorted.length;
  const k = Math.max(1, Math.min(groups, n));
  // best[g][i]: least work for the first i lengths in g groups; from[g][i]: where the last group starts
  const best = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const from = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let g = 1; g <= k; g++)
    for (let i = 1; i <= n; i++)
      for (let s = g - 1; s < i; s++) {
        const w = best[g - 1][s] + (i - s) * sorted[s] * sorted[s];
        if (w < best[g][i]) [best[g][i], from[g][i]] = [w, s];
      }
  let g = 1;
  for (let h = 2; h <= k; h++) if (best[h][n] < best[g][n]) g = h; // fewer groups on a tie
  const ends: number[] = [];
  for (let i = n; i > 0; g--) {
    ends.unshift(i);
    i = from[g][i];
  }
  return ends;
}

/**
 * The packed layout of one micro-batch: examples in input order in the flat stream; for attention,
 * examples longest first (ties by index, so the layout is a pure function of the batch) in
 * `lengthGroups`, each group in `chunks` chunks of queries of equal width (the last may be short).
 */
export function packedLayout(items: PackItem[], groups: number, chunks: number): PackedLayout {
  const tokens: number[] = [];
  const positions: number[] = [];
  const pred: number[] = [];
  const target: number[] = [];
  const start: number[] = [];
  for (const { tokens: toks, firstTrained } of items) {
    if (firstTrained < 1) throw new Error('packedLayout: every example needs at least one prompt token');
    start.push(tokens.length);
    toks.forEach((tok, j) => {
      if (j >= firstTrained) {
        pred.push(tokens.length - 1);
        target.push(tok);
      }
      tokens.push(tok);
      positions.push(j);
    });
  }
  const order = [...items.keys()].sort((a, b) => items[b].tokens.length - items[a].tokens.length || a - b);
  const ends = lengthGroups(
    order.map((i) => items[i].tokens.length),
    groups,
  );
  // flat rows of example i's columns from..to (clipped to its length)
  const cols = (from: number, to: number, i: number) => {
    const rows: number[] = [];
    for (let j = from; j < Math.min(to, items[i].tokens.length); j++) rows.push(start[i] + j);
    return rows;
  };
  const blocks: AttentionBlock[] = [];
  for (let g = 0; g < groups; g++) {
    const members = g < ends.length ? order.slice(g ? ends[g - 1] : 0, ends[g]) : [];
    const width = Math.max(0, ...members.map((i) => items[i].tokens.length));
    const w = Math.ceil(width / chunks);
    for (let c = 0; c < chunks; c++) {
      blocks.push({
        queries: members.map((i) => cols(c * w, (c + 1) * w, i)),
        keys: members.map((i) => cols(0, (c + 1) * w, i)),
      });
    }
  }
  return { tokens, positions, pred, target, blocks, chunks };
}

/** Sizes every micro-batch of a run is laid out in (the largest of any). */
export interface PackedDims {
  /** Flat rows. */
  rows: number;
  /** Trained-token slots. */
  trained: number;
  /** Per block: examples, query width, key width (each at least 1). */
  blocks: { examples: number; queries: number; keys: number }[];
}

export function packedDims(layouts: PackedLayout[]): PackedDims {
  const most = (f: (l: PackedLayout) => number) => Math.max(1, ...layouts.map(f));
  const widest = (rows: number[][]) => Math.max(1, ...rows.map((r) => r.length));
  return {
    rows: most((l) => l.tokens.length),
    trained: most((l) => l.pred.length),
    blocks: layouts[0].blocks.map((_, b) => ({
      examples: most((l) => l.blocks[b].queries.length),
      queries: most((l) => widest(l.blocks[b].queries)),
      keys: most((l) => widest(l.blocks[b].keys)),
    })),
  };
}

/**
 * The feeds of one micro-batch at sizes `d` (padding: token 0 at position 0, untrained, in no
 * block). Per flat row: tokens, positions, `out` (its slot among all blocks' query slots, block by
 * block, 0 if none) and `pred_inv` (its trained slot, or `trained` if none). Per trained slot: pred,
 * target, weight (0 for unused slots). Per block b: `k${b}` [E, K] (flat rows of its key slots, 0 for
 * padding) and `qpos${b}` [E, Q] (each query's position in its example, -1 for padding: key slot s is
 * the example's column s, so the query at p sees key slots 0..p). The gathers, each with its inverse
 * (per flat row its slot, or one past the last slot if none): `q_rows` / `q_inv`, every block's query
 * slots, block by block (each row is a query of one block); per chunk c, `k_rows${c}` / `k_inv${c}`, the
 * key slots of chunk c's block of every group, group by group (a row is a key of one block per chunk).
 * `out_inv`: per query slot, the flat row it holds, or `rows` for padding.
 */
export function packedFeeds(l: PackedLayout, d: PackedDims): Record<string, number[]> {
  const N = d.rows;
  const f: Record<string, number[]> = {
    tokens: pad(l.tokens, N, 0),
    positions: pad(l.positions, N, 0),
    pred: pad(l.pred, d.trained, 0),
    target: pad(l.target, d.trained, 0),
    weight: pad(
      l.pred.map(() => 1),
      d.trained,
      0,
    ),
    pred_inv: new Array<number>(N).fill(d.trained),
    out: new Array<number>(N).fill(0),
    out_inv: [],
    q_rows: [],
  };
  l.pred.forEach((r, s) => (f.pred_inv[r] = s));
  const slots = d.blocks.reduce((s, b) => s + b.examples * b.queries, 0);
  f.q_inv = new Array<number>(N).fill(slots);
  for (let c = 0; c < l.chunks; c++) {
    const keySlots = d.blocks.reduce((s, b, i) => (i % l.chunks === c ? s + b.examples * b.keys : s), 0);
    [f[`k_rows${c}`], f[`k_inv${c}`]] = [[], new Array<number>(N).fill(keySlots)];
  }
  l.blocks.forEach((blk, b) => {
    const { examples: E, queries: Q, keys: K } = d.blocks[b];
    const [kRows, kInv] = [f[`k_rows${b % l.chunks}`], f[`k_inv${b % l.chunks}`]];
    const k = new Array<number>(E * K).fill(0);
    const qpos = new Array<number>(E * Q).fill(-1);
    const outInv = new Array<number>(E * Q).fill(N);
    const qRows = new Array<number>(E * Q).fill(0);
    blk.queries.forEach((qs, e) => {
      qs.forEach((row, t) => {
        const slot = f.out_inv.length + e * Q + t;
        [qRows[e * Q + t], outInv[e * Q + t], f.out[row], f.q_inv[row]] = [row, row, slot, slot];
        qpos[e * Q + t] = l.positions[row];
      });
      // padding slots read row 0 but never claim it: only real keys name their slot
      blk.keys[e].forEach((row, s) => ([k[e * K + s], kInv[row]] = [row, kRows.length + e * K + s]));
    });
    kRows.push(...k);
    Object.assign(f, { [`k${b}`]: k, [`qpos${b}`]: qpos });
    f.out_inv.push(...outInv);
    f.q_rows.push(...qRows);
  });
  return f;
}

function pad(xs: number[], n: number, v: number): number[] {
  return [...xs, ...new Array<number>(n - xs.length).fill(v)];
}
