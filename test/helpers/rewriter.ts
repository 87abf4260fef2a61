// trainRewriter's integration tests share one tiny run: the random llama fixture, `n` sums to rewrite,
// the test preset, 4 steps of 8 tokens, and the final adapter's bytes as what two runs must agree on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactStore, sha256File } from '../../activities/artifact-store';
import type { TrainRewriterOutput } from '../../workflows/train-rewriter';
import { jsonl, put } from './data';
import { putTinyModel } from './model';

/** The input of a seconds-long trainRewriter run on `n` records, with `extra` fields set or overridden. */
export async function tinyRewriterInput(
  root: string,
  n: number,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    question: `What is ${i} + 2?`,
    answer: `${i} + 2 = ${i + 2}\n\\boxed{${i + 2}}`,
  }));
  return {
    preset: 'test',
    backbone: { uri: await putTinyModel(root) },
    dataset: await put(root, 'data/train.jsonl', jsonl(rows)),
    steps: 4,
    maxNewTokens: 8,
    // the random model passes no gate: without the gate every rewrite is rewarded (alignment and
    // diversity), so every step moves the adapter and the final bytes depend on every step
    gateInReward: false,
    ...extra,
  };
}

/** sha256 of a run's last adapter weights. */
export function adapterSha(root: string, out: TrainRewriterOutput): Promise<string> {
  return sha256File(join(new ArtifactStore(root).resolve(out.last.adapter!), 'adapter_model.safetensors'));
}

/** The run's metrics lines, in order. */
export function metricLines(root: string, out: TrainRewriterOutput) {
  return readFileSync(new ArtifactStore(root).resolve(out.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; settings: Record<string, number> });
}
