/** Input that cannot succeed however often it is retried: the message names the file, line or field. */
export class InputError extends Error {
  override name = 'InputError';
}

/** Training produced a non-finite loss or gradient: retrying the same step gives the same numbers. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}
