// Validators made at build time from schemas/json (scripts/gen-schemas.ts), usable everywhere: in
// workflows (no code is generated at run time, so they are deterministic and sandbox-safe), activities
// and the CLI. Validation fills in schema defaults, on a copy.
import * as validators from './generated/validators.cjs';
import type * as T from './generated/types';
import { checker } from './check';
import { schemas as workflowSchemas } from './workflow';

export { checker, describeIssues, jsonPath, SchemaError, type SchemaIssue } from './check';

export type * from './generated/types';

export const schemas = {
  ...workflowSchemas,
  datasetRecord: checker<T.DatasetRecord>(validators.validateDatasetRecord, 'dataset record'),
  chatRecord: checker<T.ChatRecord>(validators.validateChatRecord, 'chat record'),
  modelRef: checker<T.ModelRef>(validators.validateModelRef, 'model reference'),
  benchmarkSpec: checker<T.BenchmarkSpec>(validators.validateBenchmarkSpec, 'benchmark spec'),
  importDatasetOutput: checker<T.ImportDatasetOutput>(validators.validateImportDatasetOutput, 'importDataset output'),
  evaluateOutput: checker<T.EvaluateOutput>(validators.validateEvaluateOutput, 'evaluate output'),
  sftOutput: checker<T.SftOutput>(validators.validateSftOutput, 'sft output'),
  worldOutput: checker<T.WorldOutput>(validators.validateWorldOutput, 'world output'),
  forgettingInput: checker<T.ForgettingInput>(validators.validateForgettingInput, 'forgetting input'),
  pipelineReportInput: checker<T.PipelineReportInput>(validators.validatePipelineReportInput, 'pipelineReport input'),
  gateConfig: checker<T.GateConfig>(validators.validateGateConfig, 'gate config'),
  scoreDatasetOutput: checker<T.ScoreDatasetOutput>(validators.validateScoreDatasetOutput, 'scoreDataset output'),
  rewriteDatasetOutput: checker<T.RewriteDatasetOutput>(
    validators.validateRewriteDatasetOutput,
    'rewriteDataset output',
  ),
  prepareRewriterRunOutput: checker<T.PrepareRewriterRunOutput>(
    validators.validatePrepareRewriterRunOutput,
    'prepareRewriterRun output',
  ),
  finishRewriterRunOutput: checker<T.FinishRewriterRunOutput>(
    validators.validateFinishRewriterRunOutput,
    'finishRewriterRun output',
  ),
  pretrainOutput: checker<T.PretrainOutput>(validators.validatePretrainOutput, 'pretrain output'),
  trainRewriterOutput: checker<T.TrainRewriterOutput>(validators.validateTrainRewriterOutput, 'trainRewriter output'),
  benchmarkResult: checker<T.BenchmarkResult>(validators.validateBenchmarkResult, 'evaluateBenchmark output'),
  armDataOutput: checker<T.ArmDataOutput>(validators.validateArmDataOutput, 'armData output'),
  selfAlignOutput: checker<T.SelfAlignOutput>(validators.validateSelfAlignOutput, 'selfAlignDataset output'),
  deviceInfo: checker<T.DeviceInfo>(validators.validateDeviceInfo, 'deviceInfo output'),
  recordStepOutput: checker<T.RecordStepOutput>(validators.validateRecordStepOutput, 'recordStep output'),
  forgettingReportOutput: checker<T.ForgettingReportOutput>(
    validators.validateForgettingReportOutput,
    'forgettingReport output',
  ),
  pipelineReportOutput: checker<T.PipelineReportOutput>(
    validators.validatePipelineReportOutput,
    'pipelineReport output',
  ),
  worldForgettingOutput: checker<T.WorldForgettingOutput>(
    validators.validateWorldForgettingOutput,
    'worldForgetting output',
  ),
  rewriterProbeOutput: checker<T.RewriterProbeOutput>(validators.validateRewriterProbeOutput, 'rewriterProbe output'),
  pipelineOutput: checker<T.PipelineOutput>(validators.validatePipelineOutput, 'pipeline output'),
  pipelineProgress: checker<T.PipelineProgress>(validators.validatePipelineProgress, 'pipeline progress'),
  trainRewriterProgress: checker<T.TrainRewriterProgress>(
    validators.validateTrainRewriterProgress,
    'trainRewriter progress',
  ),
  rewriterSettings: checker<T.RewriterSettings>(validators.validateRewriterSettings, 'rewriter settings'),
  reportModel: checker<T.ReportModel>(validators.validateReportModel, 'report.json'),
  rewriteDatasetInput: checker<T.RewriteDatasetInput>(validators.validateRewriteDatasetInput, 'rewriteDataset input'),
  selfAlignInput: checker<T.SelfAlignInput>(validators.validateSelfAlignInput, 'selfAlignDataset input'),
  evaluateBenchmarkInput: checker<T.EvaluateBenchmarkInput>(
    validators.validateEvaluateBenchmarkInput,
    'evaluateBenchmark input',
  ),
};
