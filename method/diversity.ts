// Dataset-level diversity statistics for reports: distinct-n and mean pairwise embedding distance.
import { meanPairwiseDistance } from './rewards';

/** Distinct n-grams over all n-grams of the texts (whitespace tokens). */
export function distinctN(texts: string[], n: number): number {
  const seen = new Set<string>();
  let total = 0;
  for (const t of texts) {
    const tokens = t.split(/\s+/).filter(Boolean);
    for (let i = 0; i + n <= tokens.length; i++) {
      seen.add(tokens.slice(i, i + n).join(' '));
      total++;
    }
  }
  return total === 0 ? 0 : seen.size / total;
}

/** Mean pairwise distance of a dataset's L2-normalised embeddings (all pairs). */
export function datasetDiversity(embeddings: Float64Array[]): number {
  return meanPairwiseDistance(
    embeddings,
    embeddings.map((_, i) => i),
  );
}
