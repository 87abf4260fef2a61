// The validators a workflow runs (its input, and its update's), from generated files of their own: the
// workflow bundle, loaded into every workflow worker's sandbox, holds these and not every activity's.
// Workflows import schemas from here (lint enforces it); everything else imports ./index. Which schemas
// those are: the ones marked `"x-workflow": true` in schemas/json (see ./generate.ts).
export { workflowCheckers as schemas } from './generated/workflow-checkers';
export type * from './generated/types';
export { describeIssues, SchemaError, type SchemaIssue } from './check';
