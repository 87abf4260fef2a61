import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ArtifactStore } from '../activities/artifact-store';
import { BadRecordsError, importDataset } from '../activities/datasets/import-dataset';
import { SourceFileError } from '../activities/datasets/readers';
import { jsonl, mathRecord, noProgress, put } from './helpers/data';
import { tempDir } from './helpers/temporal';

const map = { question: 'problem', answer: 'solution' };
const lines = (store: ArtifactStore, uri: string) =>
  readFileSync(store.resolve(uri), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

async function setup() {
  const root = await tempDir();
  return { root, store: new ArtifactStore(root) };
}

test('JSONL with a BOM and CRLF line ends imports cleanly; outputs, counts and hashes agree', async () => {
  const { root, store } = await setup();
  const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify(mathRecord(i)));
  const source = await put(root, 'in/data.jsonl', '\uFEFF' + rows.join('\r\n') + '\r\n\r\n');
  const out = await importDataset(store, { source, map, split: { testFraction: 0.2 } }, noProgress);
  assert.deepEqual(out.counts, {
    read: 50,
    valid: 50,
    duplicates: 0,
    rejected: 0,
    train: out.train.records,
    test: out.test.records,
  });
  assert.equal(out.train.records + out.test.records, 50);
  assert.ok(out.test.records > 3 && out.test.records < 20, `test split ${out.test.records} of 50 at 0.2`);
  const train = lines(store, out.train.uri);
  assert.equal(train.length, out.train.records);
  assert.deepEqual(Object.keys(train[0]).sort(), ['answer', 'id', 'question']);
  assert.match(train[0].id, /^[0-9a-f]{16}$/);
  const manifest = JSON.parse(readFileSync(store.resolve(`${out.uri}/manifest.json`), 'utf8'));
  assert.equal(manifest.kind, 'dataset');
  assert.equal(manifest.inputs[0].uri, source);
  assert.equal(manifest.files.find((f: { path: string }) => f.path === 'train.jsonl').sha256, out.train.sha256);
});

test('bad records fail the import by default, naming line, field and rule; all go to a rejects file', async () => {
  const { root, store } = await setup();
  const source = await put(
    root,
    'in/bad.jsonl',
    jsonl([
      mathRecord(1),
      '{"problem": "no answer"}',
      mathRecord(2),
      '{not json',
      { problem: 'x', solution: 42 },
      mathRecord(3),
    ]),
  );
  const err = await importDataset(store, { source, map }, noProgress).catch((e) => e);
  assert.ok(err instanceof BadRecordsError, String(err));
  assert.match(err.message, /3 bad record/);
  assert.match(err.message, /bad\.jsonl:2: solution: missing field "solution" \(required\)/);
  assert.match(err.message, /bad\.jsonl:4: \$: not valid JSON/);
  assert.match(err.message, /bad\.jsonl:5: solution: "solution" must be a string, got a number \(type\)/);
  const rejects = lines(store, err.rejectsUri);
  assert.deepEqual(
    rejects.map((r) => [r.line, r.field, r.rule]),
    [
      [2, 'solution', 'required'],
      [4, '$', 'json'],
      [5, 'solution', 'type'],
    ],
  );
  assert.deepEqual(
    readdirSync(store.resolve('datasets')),
    [],
    'no dataset (nor a temporary folder) is left when the import fails',
  );
});

test('maxBadFraction skips bad records; exact duplicates are dropped; a conflicting id is a reject', async () => {
  const { root, store } = await setup();
  const rows = [
    { id: 'a', ...mathRecord(1) },
    { id: 'b', ...mathRecord(2) },
    { id: 'a', ...mathRecord(1) }, // exact duplicate of line 1
    { id: 'b', ...mathRecord(3) }, // same id, other content
    { id: 'c', problem: '   ', solution: 'x' },
    { id: 7, ...mathRecord(4) },
  ];
  const source = await put(root, 'in/d.jsonl', jsonl(rows));
  const out = await importDataset(
    store,
    { source, map: { ...map, id: 'id' }, maxBadFraction: 0.5, split: { testSize: 1 } },
    noProgress,
  );
  assert.deepEqual(out.counts, { read: 6, valid: 3, duplicates: 1, rejected: 2, train: 2, test: 1 });
  assert.deepEqual(
    out.rejectSample.map((r) => [r.line, r.field, r.rule]),
    [
      [4, 'id', 'unique'],
      [5, 'problem', 'minLength'],
    ],
  );
  assert.equal(lines(store, out.rejects.uri).length, 2);
  const ids = [...lines(store, out.train.uri), ...lines(store, out.test.uri)].map((r) => r.id).sort();
  assert.deepEqual(ids, ['7', 'a', 'b']);
});

test('a JSON array is streamed with the line each record starts on; nested fields map by dotted path', async () => {
  const { root, store } = await setup();
  const text = `\uFEFF[\r\n  {"q": {"text": "one"}, "a": "1"},\r\n  {"q": {"text": "two, with ] and \\" in it"},\r\n   "a": "2"},\r\n  {"q": {"text": "three"}},\r\n  {"q": {"text": "four"}, "a": "4"}\r\n]\r\n`;
  const source = await put(root, 'in/data.json', text);
  const out = await importDataset(
    store,
    { source, map: { question: 'q.text', answer: 'a' }, maxBadFraction: 0.3 },
    noProgress,
  );
  assert.equal(out.counts.valid, 3);
  assert.deepEqual(out.rejectSample, [{ line: 5, field: 'a', rule: 'required', message: 'missing field "a"' }]);
  const all = [...lines(store, out.train.uri), ...lines(store, out.test.uri)];
  assert.ok(all.some((r) => r.question === 'two, with ] and " in it'));

  const truncated = await put(root, 'in/trunc.json', '[{"q": {"text": "x"}, "a": "1"},\n{"q": ');
  await assert.rejects(
    importDataset(store, { source: truncated, map: { question: 'q.text', answer: 'a' } }, noProgress),
    SourceFileError,
  );
  const notArray = await put(root, 'in/obj.json', '{"q": 1}');
  await assert.rejects(
    importDataset(store, { source: notArray, map: { question: 'q', answer: 'a' } }, noProgress),
    /obj\.json:1: expected a JSON array/,
  );
});

test('Parquet files are read row group by row group; rows are named by number', async () => {
  const { root, store } = await setup();
  const problems = Array.from({ length: 30 }, (_, i) => mathRecord(i).problem);
  const solutions: (string | null)[] = Array.from({ length: 30 }, (_, i) => mathRecord(i).solution);
  solutions[11] = null;
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'problem', data: problems, type: 'STRING' },
      { name: 'solution', data: solutions, type: 'STRING' },
    ],
    rowGroupSize: 8,
  });
  const source = await put(root, 'in/data.parquet', new Uint8Array(buffer));
  const out = await importDataset(store, { source, map, maxBadFraction: 0.1 }, noProgress);
  assert.equal(out.counts.read, 30);
  assert.equal(out.counts.valid, 29);
  assert.deepEqual(
    out.rejectSample.map((r) => [r.line, r.field, r.rule]),
    [[12, 'solution', 'required']],
  );
});

test('the chat form: [system,] user, assistant', async () => {
  const { root, store } = await setup();
  const chat = (q: string, a: string, system?: string) => ({
    conv: [
      ...(system ? [{ role: 'system', content: system }] : []),
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ],
  });
  const source = await put(
    root,
    'in/chat.jsonl',
    jsonl([
      chat('q1', 'a1'),
      chat('q2', 'a2', 'be brief'),
      {
        conv: [
          { role: 'user', content: 'only' },
          { role: 'user', content: 'x' },
        ],
      },
      {
        conv: [
          { role: 'robot', content: 'x' },
          { role: 'user', content: 'y' },
        ],
      },
    ]),
  );
  const out = await importDataset(
    store,
    { source, map: { messages: 'conv' }, maxBadFraction: 0.5, split: { testFraction: 0 } },
    noProgress,
  );
  assert.equal(out.counts.valid, 2);
  assert.deepEqual(
    out.rejectSample.map((r) => [r.line, r.field, r.rule]),
    [
      [3, 'conv', 'single-turn'],
      [4, 'conv[0].role', 'enum'],
    ],
  );
  const train = lines(store, out.train.uri);
  assert.deepEqual(
    train.map((r) => [r.question, r.answer, r.system]),
    [
      ['q1', 'a1', undefined],
      ['q2', 'a2', 'be brief'],
    ],
  );
});

test('the split is seeded, stable under reordering, and exact with testSize', async () => {
  const { root, store } = await setup();
  const rows = Array.from({ length: 200 }, (_, i) => mathRecord(i));
  const a = await put(root, 'in/a.jsonl', jsonl(rows));
  const b = await put(root, 'in/b.jsonl', jsonl([...rows].reverse()));
  const testIds = async (source: string, seed: number, split: object = { testFraction: 0.25 }) => {
    const out = await importDataset(store, { source, map, seed, split }, noProgress);
    return lines(store, out.test.uri)
      .map((r) => r.id)
      .sort();
  };
  const s0 = await testIds(a, 0);
  assert.deepEqual(await testIds(b, 0), s0, 'same seed, reordered file: same test set');
  assert.notDeepEqual(await testIds(a, 1), s0, 'another seed: another test set');
  assert.equal((await testIds(a, 0, { testSize: 37 })).length, 37);
});

test('a repeated import returns the complete earlier output without rewriting it', async () => {
  const { root, store } = await setup();
  const source = await put(root, 'in/data.jsonl', jsonl(Array.from({ length: 20 }, (_, i) => mathRecord(i))));
  const first = await importDataset(store, { source, map }, noProgress);
  const mtime = statSync(store.resolve(first.train.uri)).mtimeMs;
  const again = await importDataset(store, { source, map }, noProgress);
  assert.equal(again.reused, true);
  assert.deepEqual({ ...again, reused: false }, first);
  assert.equal(statSync(store.resolve(first.train.uri)).mtimeMs, mtime);
});

test('the result stays small however many records are bad', async () => {
  const { root, store } = await setup();
  const rows = Array.from({ length: 3000 }, (_, i) => (i % 2 ? { problem: 'p' + i } : mathRecord(i)));
  const source = await put(root, 'in/many-bad.jsonl', jsonl(rows));
  const out = await importDataset(store, { source, map, maxBadFraction: 0.6 }, noProgress);
  assert.equal(out.counts.rejected, 1500);
  assert.equal(out.rejectSample.length, 20);
  assert.equal(lines(store, out.rejects.uri).length, 1500);
  assert.ok(JSON.stringify(out).length < 10_000);
});
