// Validators made at build time from schemas/json (scripts/gen-schemas.ts), usable everywhere: in
// workflows (no code is generated at run time, so they are deterministic and sandbox-safe), activities
// and the CLI. Validation fills in schema defaults, on a copy.
import type { ValidateFunction } from 'ajv';
import * as validators from './generated/validators.cjs';
import type * as T from './generated/types';

export type * from './generated/types';

export interface SchemaIssue {
  /** JSON path of the offending value, e.g. `$.split.testFraction`. */
  path: string;
  /** The schema keyword that failed, e.g. `maximum`. */
  rule: string;
  message: string;
}

export class SchemaError extends Error {
  constructor(
    readonly what: string,
    readonly issues: SchemaIssue[],
  ) {
    super(`${what} is invalid: ${issues.map((i) => `${i.path}: ${i.message} (${i.rule})`).join('; ')}`);
    this.name = 'SchemaError';
  }
}

/** `/split/testFraction` -> `$.split.testFraction`; `/messages/0/role` -> `$.messages[0].role`. */
export function jsonPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (extra) parts.push(extra);
  let path = '$';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(part)
      ? `[${part}]`
      : /^[A-Za-z_$][\w$]*$/.test(part)
        ? `.${part}`
        : `[${JSON.stringify(part)}]`;
  }
  return path;
}

function issuesOf(validate: ValidateFunction): SchemaIssue[] {
  return (validate.errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>;
    const extra =
      e.keyword === 'required'
        ? String(params.missingProperty)
        : e.keyword === 'additionalProperties'
          ? String(params.additionalProperty)
          : undefined;
    let message = e.message ?? e.keyword;
    if (e.keyword === 'additionalProperties') message = 'is not a known field';
    if (e.keyword === 'enum') message += `: ${JSON.stringify(params.allowedValues)}`;
    return { path: jsonPath(e.instancePath, extra), rule: e.keyword, message };
  });
}

function checker<Out>(validate: ValidateFunction, what: string) {
  return {
    /** Returns the value with defaults filled in (on a copy), or the list of issues. */
    check(value: unknown): { ok: true; value: Out } | { ok: false; issues: SchemaIssue[] } {
      const copy = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
      if (validate(copy)) return { ok: true, value: copy as Out };
      return { ok: false, issues: issuesOf(validate) };
    },
    /** Returns the value with defaults filled in, or throws a SchemaError naming every bad field. */
    parse(value: unknown): Out {
      const result = this.check(value);
      if (!result.ok) throw new SchemaError(what, result.issues);
      return result.value;
    },
  };
}

export const schemas = {
  datasetRecord: checker<T.DatasetRecord>(validators.validateDatasetRecord, 'dataset record'),
  chatRecord: checker<T.ChatRecord>(validators.validateChatRecord, 'chat record'),
  modelRef: checker<T.ModelRef>(validators.validateModelRef, 'model reference'),
  benchmarkSpec: checker<T.BenchmarkSpec>(validators.validateBenchmarkSpec, 'benchmark spec'),
  pipelineConfig: checker<T.PipelineConfig>(validators.validatePipelineConfig, 'pipeline config'),
  importDatasetInput: checker<T.ImportDatasetInput>(validators.validateImportDatasetInput, 'importDataset input'),
  importDatasetOutput: checker<T.ImportDatasetOutput>(validators.validateImportDatasetOutput, 'importDataset output'),
  evaluateInput: checker<T.EvaluateInput>(validators.validateEvaluateInput, 'evaluate input'),
  evaluateOutput: checker<T.EvaluateOutput>(validators.validateEvaluateOutput, 'evaluate output'),
  sftInput: checker<T.SftInput>(validators.validateSftInput, 'sft input'),
  sftOutput: checker<T.SftOutput>(validators.validateSftOutput, 'sft output'),
  prepareWorldInput: checker<T.PrepareWorldInput>(validators.validatePrepareWorldInput, 'world input'),
  worldOutput: checker<T.WorldOutput>(validators.validateWorldOutput, 'world output'),
  forgettingInput: checker<T.ForgettingInput>(validators.validateForgettingInput, 'forgetting input'),
  pipelineReportInput: checker<T.PipelineReportInput>(validators.validatePipelineReportInput, 'pipelineReport input'),
  worldForgettingInput: checker<T.WorldForgettingInput>(
    validators.validateWorldForgettingInput,
    'worldForgetting input',
  ),
  rewriterProbeInput: checker<T.RewriterProbeInput>(validators.validateRewriterProbeInput, 'rewriterProbe input'),
  gateConfig: checker<T.GateConfig>(validators.validateGateConfig, 'gate config'),
  trainRewriterInput: checker<T.TrainRewriterInput>(validators.validateTrainRewriterInput, 'trainRewriter input'),
  rewriterAdjust: checker<T.RewriterAdjust>(validators.validateRewriterAdjust, 'adjust'),
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
};
