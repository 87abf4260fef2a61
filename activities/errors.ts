/** Input that cannot succeed however often it is retried: the message names the file, line or field. */
export class InputError extends Error {
  override name = 'InputError';
}
