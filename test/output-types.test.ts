// Every workflow's and every activity's output type is the one derived from its JSON Schema
// (schemas/json, `npm run gen:schemas`): the maps below name that type for each of them, and the
// type checker (`npx tsc --noEmit`) fails when an activity or a workflow is missing from its map or
// returns anything else. The test run checks that each named schema has its validator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CpuActivities, DeviceActivities } from '../activities';
import { schemas } from '../schemas';
import type * as S from '../schemas';
import type * as workflows from '../workflows';

/** true when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Checked<Fns, Outs extends { [K in keyof Fns]: unknown }> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [K in keyof Fns]: Fns[K] extends (...args: any[]) => infer R ? Same<Awaited<R>, Outs[K]> : false;
};

type CpuOutputs = {
  prepareWorld: S.WorldOutput;
  forgettingReport: S.ForgettingReportOutput;
  pipelineReport: S.PipelineReportOutput;
  armData: S.ArmDataOutput;
  importDataset: S.ImportDatasetOutput;
  prepareRewriterRun: S.PrepareRewriterRunOutput;
  gate: S.GateOutput;
  recordStep: S.RecordStepOutput;
  finishRewriterRun: S.FinishRewriterRunOutput;
};
type DeviceOutputs = {
  sft: S.SftOutput;
  scoreDataset: S.ScoreDatasetOutput;
  rewriteDataset: S.RewriteDatasetOutput;
  selfAlignDataset: S.SelfAlignOutput;
  rollout: S.RolloutOutput;
  judge: S.JudgeOutput;
  reward: S.RewardOutput;
  update: S.UpdateOutput;
  validateRewriter: S.ValidateRewriterOutput;
  evaluateBenchmark: S.BenchmarkResult;
  deviceInfo: S.DeviceInfo;
};
type Workflows = Omit<typeof workflows, 'default'>;
type WorkflowOutputs = {
  importDataset: S.ImportDatasetOutput;
  evaluate: S.EvaluateOutput;
  sft: S.SftOutput;
  pretrain: S.PretrainOutput;
  worldForgetting: S.WorldForgettingOutput;
  rewriterProbe: S.RewriterProbeOutput;
  trainRewriter: S.TrainRewriterOutput;
  pipeline: S.PipelineOutput;
};

const cpu: Checked<CpuActivities, CpuOutputs> = {
  prepareWorld: true,
  forgettingReport: true,
  pipelineReport: true,
  armData: true,
  importDataset: true,
  prepareRewriterRun: true,
  gate: true,
  recordStep: true,
  finishRewriterRun: true,
};
const device: Checked<DeviceActivities, DeviceOutputs> = {
  sft: true,
  scoreDataset: true,
  rewriteDataset: true,
  selfAlignDataset: true,
  rollout: true,
  judge: true,
  reward: true,
  update: true,
  validateRewriter: true,
  evaluateBenchmark: true,
  deviceInfo: true,
};
const workflow: Checked<Workflows, WorkflowOutputs> = {
  importDataset: true,
  evaluate: true,
  sft: true,
  pretrain: true,
  worldForgetting: true,
  rewriterProbe: true,
  trainRewriter: true,
  pipeline: true,
};

test('every workflow and activity returns the type of its output schema', () => {
  // the type checker did the work; here: the three maps are complete at run time too
  for (const map of [cpu, device, workflow]) assert.ok(Object.values(map).every((v) => v === true));
  assert.equal(Object.keys(cpu).length + Object.keys(device).length, 20);
  assert.equal(Object.keys(workflow).length, 8);
});

test('the output schemas that are not also inputs have validators', () => {
  for (const name of [
    'benchmarkResult',
    'armDataOutput',
    'selfAlignOutput',
    'deviceInfo',
    'recordStepOutput',
    'forgettingReportOutput',
    'pipelineReportOutput',
    'worldForgettingOutput',
    'rewriterProbeOutput',
    'pipelineOutput',
    'pipelineProgress',
    'trainRewriterProgress',
    'rewriterSettings',
  ] as const)
    assert.equal(typeof schemas[name].parse, 'function', name);
});
