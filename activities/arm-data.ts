// armData: an arm's SFT set from the records its dataset builder wrote (or a plain {id, question,
// answer} file, such as y* itself), under the pipeline's one fallback: 'original' keeps every record
// (a failed rewrite already holds y*), 'drop' leaves out the records whose rewrite failed. A kept
// record keeps every field its builder wrote (original, candidates, verdicts, provenance), so the SFT
// set is also what the report's data statistics read; SFT itself reads only question and answer. Also
// the pass rate against k of a k-sample builder, read from the k samples already drawn (no resampling).
import { join } from 'node:path';
import { LineWriter } from '../engine/line-writer';
import type { ArmDataInput, ArmDataOutput } from '../schemas';
import type { ArtifactStore } from './artifact-store';
import { dataInput, readRecords } from './records';
import { stage } from './stage';

export type { ArmDataInput };
export type { ArmDataOutput };

interface BuiltRecord {
  id: string;
  question: string;
  answer: string;
  rewrite_success?: boolean;
  provenance?: string;
  candidates?: { passes: boolean }[];
}

export async function armData(store: ArtifactStore, input: ArmDataInput): Promise<ArmDataOutput> {
  const data = await dataInput(store, input.data);
  const spec = {
    kind: 'arm-dataset',
    dir: 'arms',
    name: input.arm,
    key: { format: 2, dataSha: data.sha256, fallback: input.fallback, passAtK: !!input.passAtK },
    config: input,
    inputs: [{ uri: input.data, sha256: data.sha256 }],
  };
  return stage(store, spec, async ({ uri, tmp }) => {
    const records = (await readRecords(data, ['id', 'question', 'answer'], { nonEmpty: true })) as BuiltRecord[];
    const built = records.some((r) => typeof r.rewrite_success === 'boolean');
    const provenance: Record<string, number> = {};
    const w = new LineWriter(join(tmp, 'sft.jsonl'));
    let kept = 0;
    for (const r of records) {
      const from = r.provenance ?? (!built ? 'dataset' : r.rewrite_success ? 'rewrite' : 'original');
      provenance[from] = (provenance[from] ?? 0) + 1;
      if (input.fallback === 'drop' && r.rewrite_success === false) continue;
      kept++;
      await w.write(JSON.stringify(r));
    }
    await w.close();
    const summary: Omit<ArmDataOutput, 'reused'> = {
      uri,
      dataset: `${uri}/sft.jsonl`,
      records: records.length,
      kept,
      dropped: records.length - kept,
      provenance,
      ...(built ? { rewriteSuccess: records.filter((r) => r.rewrite_success).length / records.length } : {}),
      ...(input.passAtK ? { passAtK: passAtK(records.map((r) => (r.candidates ?? []).map((c) => c.passes))) } : {}),
    };
    return summary;
  });
}

/**
 * pass@j for j = 1..k (k: the fewest samples any record has), averaged over records: with c of n
 * samples passing, 1 - C(n - c, j) / C(n, j) (the unbiased estimator of Chen et al. 2021).
 */
export function passAtK(samples: boolean[][]): number[] {
  const k = Math.min(...samples.map((s) => s.length));
  if (!samples.length || k < 1) return [];
  return Array.from({ length: k }, (_, i) => {
    const j = i + 1;
    const mean = samples.reduce((sum, s) => {
      const n = s.length;
      const c = s.filter(Boolean).length;
      // C(n - c, j) / C(n, j) as a product, exact for small n and stable for large ones
      let none = 1;
      for (let t = 0; t < j; t++) none *= Math.max(0, n - c - t) / (n - t);
      return sum + (1 - none);
    }, 0);
    return mean / samples.length;
  });
}
