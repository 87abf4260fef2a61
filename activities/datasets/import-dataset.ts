// importDataset: reads a user's downstream dataset, validates and normalizes every record, drops exact
// duplicates, splits train/test by a seeded hash of each id, and writes the dataset folder
// (train.jsonl, test.jsonl, rejects.jsonl, result.json, manifest.json) atomically. Its path is derived
// from the input's content and options, so a retried or repeated import returns the complete output.
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  schemas,
  type ImportDatasetInput,
  type ImportDatasetInputInput,
  type ImportDatasetOutput,
} from '../../schemas';
import { type ArtifactStore, sha256, sha256File } from '../artifact-store';
import { InputError } from '../errors';
import { configHash, writeManifest } from '../manifest';
import { LineWriter } from '../../engine/line-writer';
import { normalizeRecord, splitKey } from './normalize';
import { formatOf, readRecords } from './readers';

export const REJECT_SAMPLE = 20;

export interface Reject {
  line: number;
  field: string;
  rule: string;
  message: string;
}

/** What the activity needs from Temporal's context; tests and the CLI can run it without one. */
export interface Progress {
  heartbeat(details: unknown): void;
  /** Throws when the activity has been cancelled. */
  checkCancelled(): void;
}

export class BadRecordsError extends Error {
  constructor(
    message: string,
    readonly rejectsUri: string,
    readonly sample: Reject[],
  ) {
    super(message);
    this.name = 'BadRecordsError';
  }
}

export async function importDataset(
  store: ArtifactStore,
  given: ImportDatasetInputInput,
  progress: Progress,
): Promise<ImportDatasetOutput> {
  const input = schemas.importDatasetInput.parse(given);
  const sourcePath = store.resolve(input.source);
  if (!existsSync(sourcePath))
    throw new InputError(`${input.source}: no such file in the artifact store (${store.root})`);
  const format = formatOf(input.source, input.format);
  const sourceSha = await sha256File(sourcePath);
  const options = { sourceSha, format, map: input.map, split: input.split, seed: input.seed };
  const key = `${input.name}-${configHash({ ...options, maxBadFraction: input.maxBadFraction }).slice(0, 12)}`;
  const outRef = `datasets/${key}`;

  const outPath = store.resolve(outRef);
  if (existsSync(join(outPath, 'result.json'))) return reuse(outPath);

  let failure: BadRecordsError | undefined;
  const { path, reused } = await store.writeDir(outRef, async (tmp) => {
    const pass = await readAndValidate(sourcePath, format, input, tmp, progress);
    const badFraction = pass.read === 0 ? 0 : pass.rejects.length / pass.read;
    if (pass.rejects.length > 0 && badFraction > input.maxBadFraction) {
      failure = await recordFailure(store, key, input, pass.rejects, tmp, badFraction);
      throw failure;
    }
    if (pass.valid === 0) throw new InputError(`${input.source}: no valid records (read ${pass.read})`);
    const split = await splitFiles(tmp, pass.keys, input.split);
    const [trainSha, testSha] = [await sha256File(join(tmp, 'train.jsonl')), await sha256File(join(tmp, 'test.jsonl'))];
    const result: ImportDatasetOutput = {
      uri: store.ref(outPath),
      sha256: sha256(`${trainSha}\n${testSha}`),
      train: { uri: `${store.ref(outPath)}/train.jsonl`, sha256: trainSha, records: split.train },
      test: { uri: `${store.ref(outPath)}/test.jsonl`, sha256: testSha, records: split.test },
      rejects: {
        uri: `${store.ref(outPath)}/rejects.jsonl`,
        sha256: await sha256File(join(tmp, 'rejects.jsonl')),
        records: pass.rejects.length,
      },
      counts: {
        read: pass.read,
        valid: pass.valid,
        duplicates: pass.duplicates,
        rejected: pass.rejects.length,
        train: split.train,
        test: split.test,
      },
      rejectSample: pass.rejects.slice(0, REJECT_SAMPLE),
      reused: false,
    };
    await writeResult(tmp, result);
    await writeManifest(tmp, {
      kind: 'dataset',
      config: { ...input, format },
      seeds: { split: input.seed },
      inputs: [{ uri: input.source, sha256: sourceSha }],
      files: ['train.jsonl', 'test.jsonl', 'rejects.jsonl', 'result.json'],
    });
  });
  if (failure) throw failure;
  return reused
    ? reuse(path)
    : schemas.importDatasetOutput.parse(JSON.parse(await readFile(join(path, 'result.json'), 'utf8')));
}

async function reuse(path: string): Promise<ImportDatasetOutput> {
  const result = schemas.importDatasetOutput.parse(JSON.parse(await readFile(join(path, 'result.json'), 'utf8')));
  return { ...result, reused: true };
}

async function writeResult(dir: string, result: ImportDatasetOutput): Promise<void> {
  const w = new LineWriter(join(dir, 'result.json'));
  await w.write(JSON.stringify(result, null, 2));
  await w.close();
}

interface FirstPass {
  read: number;
  valid: number;
  duplicates: number;
  rejects: Reject[];
  keys: number[];
}

async function readAndValidate(
  sourcePath: string,
  format: ReturnType<typeof formatOf>,
  input: ImportDatasetInput,
  dir: string,
  progress: Progress,
): Promise<FirstPass> {
  const all = new LineWriter(join(dir, 'all.jsonl'));
  const rejectsOut = new LineWriter(join(dir, 'rejects.jsonl'));
  const seenContent = new Set<string>();
  const seenIds = new Set<string>();
  const pass: FirstPass = { read: 0, valid: 0, duplicates: 0, rejects: [], keys: [] };
  const reject = async (r: Reject) => {
    pass.rejects.push(r);
    await rejectsOut.write(JSON.stringify(r));
  };
  try {
    for await (const item of readRecords(sourcePath, format, input.source)) {
      pass.read++;
      if (pass.read % 1000 === 0) {
        progress.checkCancelled();
        progress.heartbeat({ stage: 'read', line: item.line, records: pass.read });
      }
      if ('problem' in item) {
        const { field, rule, message } = item.problem;
        await reject({ line: item.line, field: field ?? '$', rule, message: message.slice(0, 500) });
        continue;
      }
      const n = normalizeRecord(item.value, input.map);
      if (!n.ok) {
        await reject({ line: item.line, ...n.problem, message: n.problem.message.slice(0, 500) });
        continue;
      }
      const r = n.record;
      const content = sha256(`${r.system ?? ''}\0${r.question}\0${r.answer}`);
      if (seenContent.has(content)) {
        pass.duplicates++;
        continue;
      }
      if (seenIds.has(r.id)) {
        await reject({
          line: item.line,
          field: input.map.id ?? 'id',
          rule: 'unique',
          message: `id "${r.id}" is used by an earlier, different record`,
        });
        continue;
      }
      seenContent.add(content);
      seenIds.add(r.id);
      pass.valid++;
      pass.keys.push(splitKey(input.seed, r.id));
      await all.write(JSON.stringify(r));
    }
  } finally {
    await all.close();
    await rejectsOut.close();
  }
  return pass;
}

/** Second pass: the records whose split keys are smallest go to test, in their original order. */
async function splitFiles(
  dir: string,
  keys: number[],
  split: ImportDatasetInput['split'],
): Promise<{ train: number; test: number }> {
  let threshold: number;
  if (split.testSize !== undefined) {
    const sorted = Float64Array.from(keys).sort();
    threshold = split.testSize >= keys.length ? Infinity : sorted[split.testSize];
  } else {
    threshold = split.testFraction;
  }
  const train = new LineWriter(join(dir, 'train.jsonl'));
  const test = new LineWriter(join(dir, 'test.jsonl'));
  const lines = createInterface({
    input: createReadStream(join(dir, 'all.jsonl'), { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let i = 0;
  for await (const line of lines) await (keys[i++] < threshold ? test : train).write(line);
  await train.close();
  await test.close();
  await rm(join(dir, 'all.jsonl'));
  return { train: train.count, test: test.count };
}

async function recordFailure(
  store: ArtifactStore,
  key: string,
  input: ImportDatasetInput,
  rejects: Reject[],
  tmp: string,
  badFraction: number,
): Promise<BadRecordsError> {
  const ref = `imports-failed/${key}`;
  const { path } = await store.writeDir(ref, async (dir) => {
    await copyFile(join(tmp, 'rejects.jsonl'), join(dir, 'rejects.jsonl'));
    await writeManifest(dir, {
      kind: 'rejects',
      config: input,
      seeds: {},
      inputs: [{ uri: input.source, sha256: await sha256File(store.resolve(input.source)) }],
      files: ['rejects.jsonl'],
    });
  });
  const rejectsUri = `${store.ref(path)}/rejects.jsonl`;
  const shown = rejects
    .slice(0, 5)
    .map((r) => `${input.source}:${r.line}: ${r.field}: ${r.message} (${r.rule})`)
    .join('; ');
  const allowed =
    input.maxBadFraction === 0
      ? 'no bad records are allowed (set maxBadFraction to skip them)'
      : `at most ${input.maxBadFraction} are allowed`;
  return new BadRecordsError(
    `${rejects.length} bad record(s) (${(badFraction * 100).toFixed(2)}% of those read); ${allowed}. ` +
      `First: ${shown}${rejects.length > 5 ? '; …' : ''}. All rejects: ${rejectsUri}`,
    rejectsUri,
    rejects.slice(0, REJECT_SAMPLE),
  );
}
