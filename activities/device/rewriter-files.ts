// Where a trainRewriter run keeps its stages, and how each stage's folder is written once.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactStore } from '../artifact-store';
import { LineWriter } from '../../engine/line-writer';
import { InputError } from '../errors';

/** `<run>/steps/000012`: the folder of one GRPO step. */
export const stepDir = (run: string, step: number) => `${run}/steps/${String(step).padStart(6, '0')}`;

type Summary = Record<string, unknown>;

/**
 * Runs `fill` once per stage folder: a complete folder (its summary.json written last, the folder
 * renamed into place) is returned as is with `reused: true`; otherwise `fill` writes its files into a
 * temporary folder through `write` and returns the summary.
 */
export async function stageOnce<S extends Summary>(
  store: ArtifactStore,
  ref: string,
  fill: (write: (file: string, rows: unknown[]) => Promise<void>, tmp: string, ref: string) => Promise<S>,
): Promise<S & { reused: boolean }> {
  const path = store.resolve(ref);
  const summaryFile = join(path, 'summary.json');
  if (existsSync(summaryFile)) return { ...(JSON.parse(await readFile(summaryFile, 'utf8')) as S), reused: true };
  let summary!: S;
  await store.writeDir(ref, async (tmp) => {
    summary = await fill((file, rows) => writeJsonl(join(tmp, file), rows), tmp, store.ref(path));
    await writeFile(join(tmp, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  });
  if (!summary) return { ...(JSON.parse(await readFile(summaryFile, 'utf8')) as S), reused: true };
  return { ...summary, reused: false };
}

export async function writeJsonl(path: string, rows: unknown[]): Promise<void> {
  const w = new LineWriter(path);
  for (const r of rows) await w.write(JSON.stringify(r));
  await w.close();
}

export async function readJsonlRows<T>(store: ArtifactStore, uri: string): Promise<T[]> {
  const path = store.resolve(uri);
  if (!existsSync(path)) throw new InputError(`${uri} does not exist in the artifact store`);
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as T;
      } catch (e) {
        throw new InputError(`${uri}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
    });
}
