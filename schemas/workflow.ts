// The validators a workflow runs (its input, and its update's), from a generated file of their own: the
// workflow bundle, loaded into every workflow worker's sandbox, holds these and not every activity's.
// Workflows import schemas from here (lint enforces it); everything else imports ./index. Which
// schemas those are: WORKFLOW_SCHEMA_FILES in ./generate.ts.
import * as validators from './generated/workflow-validators.cjs';
import type * as T from './generated/types';
import { checker } from './check';

export type * from './generated/types';
export { describeIssues, SchemaError, type SchemaIssue } from './check';

export const schemas = {
  pipelineConfig: checker<T.PipelineConfig>(validators.validatePipelineConfig, 'pipeline config'),
  importDatasetInput: checker<T.ImportDatasetInput>(validators.validateImportDatasetInput, 'importDataset input'),
  evaluateInput: checker<T.EvaluateInput>(validators.validateEvaluateInput, 'evaluate input'),
  sftInput: checker<T.SftInput>(validators.validateSftInput, 'sft input'),
  prepareWorldInput: checker<T.PrepareWorldInput>(validators.validatePrepareWorldInput, 'world input'),
  worldForgettingInput: checker<T.WorldForgettingInput>(
    validators.validateWorldForgettingInput,
    'worldForgetting input',
  ),
  rewriterProbeInput: checker<T.RewriterProbeInput>(validators.validateRewriterProbeInput, 'rewriterProbe input'),
  trainRewriterInput: checker<T.TrainRewriterInput>(validators.validateTrainRewriterInput, 'trainRewriter input'),
  rewriterAdjust: checker<T.RewriterAdjust>(validators.validateRewriterAdjust, 'adjust'),
};
