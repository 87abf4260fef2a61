// Maps the errors our code raises to Temporal failures: bad input is non-retryable (retrying cannot
// fix it) and keeps its type, so a workflow or the CLI can tell what went wrong.
import { ApplicationFailure } from '@temporalio/common';
import { SchemaError } from '../schemas';
import { PathEscapeError } from './artifact-store';
import { BadRecordsError } from './datasets/import-dataset';
import { SourceFileError } from './datasets/readers';
import { ModelFileError } from '../engine/errors';
import { ExtractorError } from '../method/extract';
import { InputError, TrainingDivergedError } from './errors';

export function toFailure(err: unknown): unknown {
  if (err instanceof BadRecordsError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'BadRecords',
      nonRetryable: true,
      details: [{ rejectsUri: err.rejectsUri, sample: err.sample }],
    });
  }
  if (err instanceof SchemaError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'InvalidInput',
      nonRetryable: true,
      details: [err.issues],
    });
  }
  for (const [cls, type] of [
    [PathEscapeError, 'PathEscape'],
    [SourceFileError, 'BadSourceFile'],
    [InputError, 'InvalidInput'],
    [TrainingDivergedError, 'TrainingDiverged'],
    [ModelFileError, 'BadModelFile'],
    [ExtractorError, 'InvalidInput'],
  ] as const) {
    if (err instanceof cls) return ApplicationFailure.create({ message: err.message, type, nonRetryable: true });
  }
  return err;
}
