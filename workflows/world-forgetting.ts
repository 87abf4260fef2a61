import { patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  schemas,
  type ModelRef,
  type WorldForgettingInputInput,
  type WorldForgettingOutput,
} from '../schemas/workflow';
import { STAGE } from './search-attributes';
import { cpuActivities, deviceActivities, evaluateChild, pretrainChild, sftChild } from './stages';
import { validateInput } from './validate';
import { trainingSet } from './world-stage';

export type { WorldForgettingOutput };

const { forgettingReport } = cpuActivities('report');

/**
 * The main job on the embedded default: pretrain (or reuse) the backbone, score each arm's training set
 * under it (the NLL dose), fine-tune each arm on its downstream training set with the world's one SFT
 * recipe, evaluate the base and every arm, report forgetting, its dose-response, and each arm's
 * forgetting reduction against vanilla SFT (foreign). Each stage but scoring is a child workflow,
 * visible on its own in the UI.
 */
export async function worldForgetting(input: WorldForgettingInputInput): Promise<WorldForgettingOutput> {
  const resolved = validateInput(schemas.worldForgettingInput, input, 'worldForgetting');
  const id = workflowInfo().workflowId;
  upsertSearchAttributes([{ key: STAGE, value: 'pretrain' }]);
  // a data seed other than 0 gives the world another sample of the downstream train split (same backbone)
  const { world, backbone } = await pretrainChild(id, resolved);
  const { recipe } = world;
  const datasets = resolved.arms.map((arm, i) =>
    trainingSet(world, resolved.recipe, arm, 'worldForgetting', `$.arms[${i}]`),
  );

  // the dose: how unlike the backbone's own writing each arm's SFT data is (scoreDataset caches by
  // content). Runs started before this stage existed replay without it.
  let nll: Record<string, number> = {};
  if (patched('backbone-nll')) {
    upsertSearchAttributes([{ key: STAGE, value: 'score' }]);
    const { scoreDataset } = deviceActivities(resolved.device, 'batch');
    // scored with the QA template the SFT recipe trains with (the activity's default)
    const scores = await Promise.all(datasets.map((dataset) => scoreDataset({ model: backbone, dataset })));
    nll = Object.fromEntries(resolved.arms.map((arm, i) => [arm, scores[i].meanNll]));
  }
  const evaluateArm = (name: string, model: ModelRef) =>
    evaluateChild(id, name, { model, benchmarks: world.benchmarks, device: resolved.device });

  upsertSearchAttributes([{ key: STAGE, value: 'sft' }]);
  const models = await Promise.all(
    resolved.arms.map((arm, i) =>
      sftChild(id, arm, {
        ...recipe.sft,
        ...resolved.sft,
        name: `sft-${arm}`,
        model: backbone,
        dataset: datasets[i],
        seed: resolved.sftSeed,
        device: resolved.device,
      }),
    ),
  );
  upsertSearchAttributes([{ key: STAGE, value: 'evaluate' }]);
  const [base, ...evaluations] = await Promise.all([
    evaluateArm('base', backbone),
    ...models.map((m, i) => evaluateArm(resolved.arms[i], m.model)),
  ]);
  upsertSearchAttributes([{ key: STAGE, value: 'report' }]);
  const report = await forgettingReport({
    name: `forgetting-${resolved.recipe}`,
    base: base.results,
    arms: Object.fromEntries(resolved.arms.map((arm, i) => [arm, evaluations[i].results])),
    ...(Object.keys(nll).length > 0 ? { nll } : {}),
  });
  upsertSearchAttributes([{ key: STAGE, value: 'done' }]);
  const { strict: _s, lenient: _l, ...summary } = report;
  return {
    backbone,
    base,
    arms: Object.fromEntries(
      resolved.arms.map((arm, i) => [arm, { model: models[i].model, evaluation: evaluations[i] }]),
    ),
    nll,
    report: summary,
  };
}
