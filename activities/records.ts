// Datasets a stage reads: a reference into the store, checked and hashed before the stage's key is
// computed (the key holds the hash, never the path), and its records read and validated only when the
// stage has to run.
import { existsSync } from 'node:fs';
import { sha256File, type ArtifactStore } from './artifact-store';
import { MAX_RECORD_DEPTH, nestedDeeperThan, readLines } from './datasets/readers';
import { InputError } from './errors';
import type { DataInput } from '../schemas';

// the type comes from its schema (schemas/json/data-input.schema.json); it never crosses an activity
// boundary, so it is not validated
export type { DataInput };

/**
 * Resolves and hashes a dataset in the store; an InputError names `what` when it does not exist
 * ("dataset: <uri> does not exist in the artifact store").
 */
export async function dataInput(store: ArtifactStore, uri: string, what = 'dataset'): Promise<DataInput> {
  const path = store.resolve(uri);
  if (!existsSync(path)) throw new InputError(`${what}: ${uri} does not exist in the artifact store`);
  return { uri, path, sha256: await sha256File(path) };
}

/**
 * One parsed line per non-blank line of a JSONL file, streamed (a big file is never held as one string,
 * and a line over the record size limit is refused while it streams); an InputError names `label:line`
 * of a bad one and says what is wrong: not UTF-8, too long, not JSON, nested too deep.
 */
export async function readJsonl<T>(path: string, label: string): Promise<T[]> {
  const out: T[] = [];
  for await (const item of readLines(path)) {
    if ('problem' in item) throw new InputError(`${label}:${item.line}: ${item.problem.message}`);
    if (item.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(item.text);
    } catch (e) {
      throw new InputError(`${label}:${item.line}: not valid JSON (${(e as Error).message})`);
    }
    if (nestedDeeperThan(value, MAX_RECORD_DEPTH))
      throw new InputError(`${label}:${item.line}: nested deeper than ${MAX_RECORD_DEPTH} levels`);
    out.push(value as T);
  }
  return out;
}

export type Records<F extends string> = (Record<F, string> & Record<string, unknown>)[];

/**
 * The records of a JSONL dataset, each with the `required` fields as non-empty strings (an
 * InputError names the line and the field otherwise); `nonEmpty` also rejects a file without records.
 */
export async function readRecords<F extends string>(
  data: Pick<DataInput, 'uri' | 'path'>,
  required: readonly F[],
  o: { nonEmpty?: boolean } = {},
): Promise<Records<F>> {
  const records = await readJsonl<Record<string, unknown>>(data.path, data.uri);
  records.forEach((r, i) => {
    for (const f of required)
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${data.uri}:${i + 1}: ${f}: must be a non-empty string`);
  });
  if (o.nonEmpty && records.length === 0) throw new InputError(`${data.uri}: no records`);
  return records as Records<F>;
}
