// How a frozen model sees answers: the negative log-likelihood of each answer's tokens after the QA
// prefix, and optionally the mean-pooled last hidden state of the answer alone. One function for every
// caller — the rewriter's reward and validation, Generate-Verify-Fallback's choice among candidates,
// and scoreDataset's dose-response axis — so "how natural is this text for the backbone" is computed
// one way everywhere.
import type { ScoreProgram } from '../engine/programs';
import type { TextTokenizer } from '../engine/tokenizer';
import { fill } from '../method/prompts';

export interface BackboneScores {
  /** Mean NLL per answer token of each text after the QA prefix (the alignment signal l_i). */
  nll: number[];
  /** Total NLL of each text's tokens (nats); nll[i] = sums[i] / tokens[i]. */
  sums: number[];
  tokens: number[];
  /** Mean-pooled last hidden state of each text alone (not normalised); empty unless asked for. */
  embeddings: Float32Array[];
}

export interface BackboneScoreOptions {
  qaPrompt: string;
  batchSize: number;
  /** Also embed each text alone (a second forward per batch). */
  embeddings?: boolean;
  /**
   * Batch texts of similar length together (less padding; a large dataset scores faster). Off, the
   * batches follow the input order, which the rewriter's reward keeps so its numbers do not move.
   */
  byLength?: boolean;
}

/**
 * The frozen backbone's view of each text (the adapter switched off when the scorer carries one).
 * An empty text scores as one space, so every text has a defined per-token NLL.
 */
export async function backboneScores(
  scorer: ScoreProgram,
  tok: TextTokenizer,
  items: { question: string; text: string }[],
  o: BackboneScoreOptions,
  onBatch: (done: number, of: number) => void = () => {},
): Promise<BackboneScores> {
  const space = tok.encode(' ', { addSpecialTokens: false });
  const encoded = items.map((it) => {
    const target = tok.encode(it.text, { addSpecialTokens: false });
    return { prompt: tok.encode(fill(o.qaPrompt, { question: it.question })), target: target.length ? target : space };
  });
  const order = [...encoded.keys()];
  if (o.byLength)
    order.sort(
      (a, b) =>
        encoded[a].prompt.length + encoded[a].target.length - encoded[b].prompt.length - encoded[b].target.length,
    );
  const sums = new Array<number>(items.length);
  const embeddings = new Array<Float32Array>(o.embeddings ? items.length : 0);
  for (let i = 0; i < order.length; i += o.batchSize) {
    const idx = order.slice(i, i + o.batchSize);
    const batch = idx.map((j) => encoded[j]);
    const qa = await scorer.score(batch, { adapter: false });
    qa.logprobs.forEach((lp, k) => (sums[idx[k]] = -lp.reduce((s, x) => s + x, 0)));
    if (o.embeddings) {
      const alone = await scorer.score(
        batch.map((b) => ({ prompt: [], target: b.target })),
        { adapter: false },
      );
      alone.embeddings.forEach((e, k) => (embeddings[idx[k]] = e));
    }
    onBatch(Math.min(order.length, i + o.batchSize), items.length);
  }
  const tokens = encoded.map((e) => e.target.length);
  return { nll: sums.map((s, i) => s / tokens[i]), sums, tokens, embeddings };
}
