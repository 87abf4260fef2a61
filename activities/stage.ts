// One content-addressed stage: its output folder is named by a key computed from what the output is a
// function of (content hashes of the model and the data, and the recipe; never a path, a manifest or
// a timestamp). A complete output already there is returned as is; otherwise the body runs, writing
// into a temporary folder that appears under the final name atomically, with its summary file and a
// manifest, once the body returns. Every device activity is such a stage.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { canonicalJson, sha256, type ArtifactStore } from './artifact-store';
import { writeManifest } from './manifest';

export interface StageSpec {
  /** The manifest's kind ('model', 'evaluation', 'dataset-score', ...). */
  kind: string;
  /** The folder the output goes in, e.g. 'models' or `evaluations/${modelKey}`. */
  dir: string;
  /** A readable prefix of the output's name: `<dir>/<name>-<key>`; omitted, the name is the key. */
  name?: string;
  /** What the output is a function of: content hashes and settings that change it, nothing else. */
  key: Record<string, unknown>;
  /** The manifest's config (default: the key). */
  config?: unknown;
  seeds?: Record<string, number>;
  /** The manifest's inputs: references and their content hashes. */
  inputs?: { uri: string; sha256: string }[];
  /** The file the body's summary is written to (default summary.json); its existence marks a complete output. */
  summaryFile?: string;
}

export interface StageContext {
  /** The key: 16 hex digits of the hash of `spec.key`. */
  key: string;
  /** The output's reference (`<dir>/<name>-<key>`) and absolute path, where it will be once complete. */
  ref: string;
  path: string;
  /** The output's artifact:// URI. */
  uri: string;
  /** The temporary folder the body writes its files into (made on first use), moved to `path` when it returns. */
  readonly tmp: string;
}

export type StageResult<S> = S & { uri: string; reused: boolean };

/** The key and place of a stage's output, without running anything. */
export function stageOutput(store: ArtifactStore, spec: Pick<StageSpec, 'dir' | 'name' | 'key'>) {
  const key = stageKey(spec.key);
  const ref = `${spec.dir}/${spec.name === undefined ? key : `${spec.name}-${key}`}`;
  const path = store.resolve(ref);
  return { key, ref, path, uri: store.ref(path) };
}

export function stageKey(key: Record<string, unknown>): string {
  return sha256(canonicalJson(key)).slice(0, 16);
}

/**
 * Runs a stage once: returns the stored summary (with `reused: true`) when the output exists, else
 * runs `body`, which writes its files into `ctx.tmp` and returns the summary; the summary file and the
 * manifest (hashes of every file the body wrote) are added and the folder is renamed into place, so a
 * reader sees a complete output or none. On error nothing is left. The result is the summary with the
 * output's `uri` and `reused`.
 */
export async function stage<S extends object>(
  store: ArtifactStore,
  spec: StageSpec,
  body: (ctx: StageContext) => Promise<S>,
): Promise<StageResult<S>> {
  const out = stageOutput(store, spec);
  const summaryFile = spec.summaryFile ?? 'summary.json';
  const stored = async (reused: boolean): Promise<StageResult<S>> => ({
    ...(JSON.parse(await readFile(join(out.path, summaryFile), 'utf8')) as S),
    uri: out.uri,
    reused,
  });
  if (existsSync(join(out.path, summaryFile))) return stored(true);
  // the temporary folder is made when the body first writes, so a worker killed during a long run
  // (training, generation) leaves no empty temporary folder behind
  let tmp: string | undefined;
  const ctx: StageContext = {
    ...out,
    get tmp() {
      if (!tmp) {
        tmp = join(dirname(out.path), `.tmp-${basename(out.path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
        mkdirSync(tmp, { recursive: true });
      }
      return tmp;
    },
  };
  try {
    const summary = await body(ctx);
    const dir = ctx.tmp;
    const files = (await filesIn(dir)).filter((f) => f !== summaryFile && f !== 'manifest.json');
    await writeFile(join(dir, summaryFile), JSON.stringify(summary, null, 2) + '\n');
    await writeManifest(dir, {
      kind: spec.kind,
      config: spec.config ?? spec.key,
      seeds: spec.seeds ?? {},
      inputs: spec.inputs ?? [],
      files: [...files, summaryFile],
    });
    // a concurrent attempt may have completed it first: its output is the one kept
    if (existsSync(out.path)) {
      await rm(dir, { recursive: true, force: true });
      return stored(true);
    }
    await rename(dir, out.path);
    return stored(false);
  } catch (err) {
    if (tmp) await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Paths of the files below `dir`, '/'-separated, sorted. */
async function filesIn(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesIn(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}
