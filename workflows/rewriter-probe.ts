import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { schemas, type RewriterProbeInputInput, type RewriterProbeOutput } from '../schemas/workflow';
import { ARM, METRIC, RECORDS, STAGE } from './search-attributes';
import { deviceActivities, pretrainChild } from './stages';
import { validateInput } from './validate';
import { trainingSet } from './world-stage';

export type { RewriterProbeOutput };
export type RewriterProbeRun = RewriterProbeOutput['runs'][number];

/**
 * The prompted rewriter at step 0: the backbone with the world's rewrite prompt and no training, asked to
 * rewrite a downstream training set; its gate pass rate, greedy and sampled. Pretraining is the cached
 * `pretrain` child; each temperature is one rewriteDataset device activity, content-addressed, so a
 * repeated probe returns the stored rewrites at once.
 */
export async function rewriterProbe(input: RewriterProbeInputInput): Promise<RewriterProbeOutput> {
  const resolved = validateInput(schemas.rewriterProbeInput, input, 'rewriterProbe');
  const id = workflowInfo().workflowId;
  upsertSearchAttributes([
    { key: STAGE, value: 'pretrain' },
    { key: ARM, value: resolved.arm },
  ]);
  const { world, backbone } = await pretrainChild(id, resolved);
  const dataset = trainingSet(world, resolved.recipe, resolved.arm, 'rewriterProbe', '$.arm');

  upsertSearchAttributes([{ key: STAGE, value: 'rewrite' }]);
  const { rewriteDataset } = deviceActivities(resolved.device, 'batch');
  // all at once: the device worker runs them one at a time, and the results come back in order
  const settings = resolved.temperatures.map((temperature) => ({
    temperature,
    samples: temperature === 0 ? 1 : resolved.samples,
    seed: temperature === 0 ? 0 : resolved.sampleSeed,
  }));
  const outputs = await Promise.all(
    settings.map((s) =>
      rewriteDataset({
        model: backbone,
        dataset,
        name: `probe-${resolved.arm}`,
        // the world's rewrite prompt is the activity's default
        extractor: { kind: 'boxed' },
        // the world's full gate: the answer and every step (answer-only rates are reported beside it)
        gate: { extractor: { kind: 'boxed' }, checks: ['answer', 'steps'] },
        ...s,
        ...(resolved.limit !== undefined ? { limit: resolved.limit } : {}),
      }),
    ),
  );
  const runs = outputs.map((o, i) => ({ ...settings[i], ...o }));
  const headline = runs.find((r) => r.temperature === 0) ?? runs[0];
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    { key: RECORDS, value: headline.records },
    { key: METRIC, value: headline.passRate },
  ]);
  return { recipe: resolved.recipe, arm: resolved.arm, backbone, dataset, runs };
}
