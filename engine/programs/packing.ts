// Packing of training examples into rows: a batch padded to its longest example wastes most of its
// rows on short examples (the embedded world's pretraining batches mix 70- and 380-token examples),
// so the packed train step puts several examples side by side in one row, each attending only to
// itself (block-diagonal causal attention, positions from 0 per example). The loss is the same
// token mean; only the order of float sums changes.

export interface PackItem {
  /** Tokens of the example (prompt then trained tail). */
  tokens: number[];
  /** Index of the first trained token (>= 1: it is predicted from the token before it). */
  firstTrained: number;
}

export interface PackedRows {
  /** Row length (the longest example). */
  width: number;
  /** Each row: the examples it holds, left to right, by index into the input. */
  rows: number[][];
}

/**
 * First-fit decreasing: examples longest first (ties by index, so the packing is a pure function of
 * the lengths), each into the first row with room, rows `width` long. Rows are in creation order.
 */
export function packRows(lengths: number[], width = Math.max(1, ...lengths)): PackedRows {
  const order = [...lengths.keys()].sort((a, b) => lengths[b] - lengths[a] || a - b);
  const rows: number[][] = [];
  const free: number[] = [];
  for (const i of order) {
    if (lengths[i] > width) throw new Error(`packRows: an example of ${lengths[i]} tokens exceeds rows of ${width}`);
    const r = free.findIndex((f) => f >= lengths[i]);
    if (r < 0) {
      rows.push([i]);
      free.push(width - lengths[i]);
    } else {
      rows[r].push(i);
      free[r] -= lengths[i];
    }
  }
  return { width, rows };
}

/**
 * The packed feeds of one micro-batch, laid out in `R` rows of `T` columns and `N` trained-token
 * slots (R, T, N at least what the batch needs, so every micro-batch of a run shares one shape):
 * tokens, segments (1-based example number per column, 0 = padding), positions (from 0 in each
 * example), and per trained token the flat column `pred` (row * T + column) whose logits predict
 * it, the token `target` and `weight` (1, or 0 for unused slots).
 */
export function packedFeeds(
  items: PackItem[],
  packed: PackedRows,
  R: number,
  T: number,
  N: number,
): { tokens: number[]; segments: number[]; positions: number[]; pred: number[]; target: number[]; weight: number[] } {
  const tokens = new Array<number>(R * T).fill(0);
  const segments = new Array<number>(R * T).fill(0);
  const positions = new Array<number>(R * T).fill(0);
  const pred = new Array<number>(N).fill(0);
  const target = new Array<number>(N).fill(0);
  const weight = new Array<number>(N).fill(0);
  let n = 0;
  packed.rows.forEach((row, r) => {
    let col = 0;
    for (const i of row) {
      const { tokens: toks, firstTrained } = items[i];
      if (firstTrained < 1) throw new Error('packedFeeds: every example needs at least one prompt token');
      toks.forEach((tok, j) => {
        const at = r * T + col + j;
        tokens[at] = tok;
        segments[at] = i + 1;
        positions[at] = j;
        if (j >= firstTrained) {
          pred[n] = at - 1;
          target[n] = tok;
          weight[n++] = 1;
        }
      });
      col += toks.length;
    }
  });
  if (n > N) throw new Error(`packedFeeds: ${n} trained tokens for ${N} slots`);
  return { tokens, segments, positions, pred, target, weight };
}
