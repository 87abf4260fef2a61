// Validators made at build time from schemas/json (scripts/gen-schemas.ts), usable everywhere: in
// workflows (no code is generated at run time, so they are deterministic and sandbox-safe), activities
// and the CLI. Validation fills in schema defaults, on a copy. `schemas` holds a checker for every schema
// file, generated too (schemas/generated/checkers.ts), so a new schema needs no edit here.
export { checkers as schemas } from './generated/checkers';
export { checker, describeIssues, jsonPath, SchemaError, type SchemaIssue } from './check';
export type * from './generated/types';
