/**
 * A file of a model folder (config.json, tokenizer files, generation_config.json, the weights) that cannot
 * be used as it is. The message names the file and the field; retrying cannot fix it.
 */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** "null", "an array", "a string", ... for messages about a JSON value of the wrong type. */
export function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** True for a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
