// The content-addressed stage helper, the record reader and content keys, without a device program.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { DeviceSession } from '../activities/device/session';
import { dataInput, readRecords } from '../activities/records';
import { stage, stageOutput } from '../activities/stage';
import { microBatches } from '../training';
import { jsonl, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

test('a stage runs once: its output is written atomically with summary and manifest, then reused', async () => {
  const store = new ArtifactStore(await tempDir());
  let runs = 0;
  const spec = { kind: 'test', dir: 'things', name: 'x', key: { a: 1, data: 'abc' }, seeds: { s: 2 } };
  const body = async ({ tmp, uri }: { tmp: string; uri: string }) => {
    runs++;
    await writeFile(join(tmp, 'out.txt'), 'hello\n');
    return { uri, value: 42, reused: false };
  };
  const first = await stage(store, spec, body);
  assert.equal(first.reused, false);
  assert.equal(first.value, 42);
  const out = stageOutput(store, spec);
  assert.equal(first.uri, out.uri);
  assert.match(out.ref, /^things\/x-[0-9a-f]{16}$/);
  const manifest = JSON.parse(readFileSync(join(out.path, 'manifest.json'), 'utf8'));
  assert.equal(manifest.kind, 'test');
  assert.deepEqual(manifest.seeds, { s: 2 });
  assert.deepEqual(
    manifest.files.map((f: { path: string }) => f.path),
    ['out.txt', 'summary.json'],
  );
  const again = await stage(store, spec, body);
  assert.deepEqual({ ...again, reused: false }, first);
  assert.equal(again.reused, true);
  assert.equal(runs, 1);
  // another key is another output; key order does not matter
  assert.equal(stageOutput(store, { ...spec, key: { data: 'abc', a: 1 } }).key, out.key);
  assert.notEqual(stageOutput(store, { ...spec, key: { a: 2, data: 'abc' } }).key, out.key);
});

test('a stage whose body fails leaves nothing behind, and the next attempt runs again', async () => {
  const store = new ArtifactStore(await tempDir());
  const spec = { kind: 'test', dir: 'things', key: { a: 1 } };
  await assert.rejects(
    stage(store, spec, async ({ tmp }) => {
      await writeFile(join(tmp, 'half.txt'), 'x');
      throw new Error('crashed');
    }),
    /crashed/,
  );
  assert.deepEqual(readdirSync(store.resolve('things')), []);
  // the temporary folder appears only once the body writes: a long run killed before leaves none
  await assert.rejects(
    stage(store, spec, async () => {
      assert.deepEqual(readdirSync(store.resolve('things')), []);
      throw new Error('killed');
    }),
    /killed/,
  );
  const ok = await stage(store, spec, async () => ({ n: 1 }));
  assert.equal(ok.reused, false);
  assert.ok(existsSync(join(store.resolve(ok.uri), 'summary.json')));
});

test('records: a missing dataset, a bad line and a missing field are input errors naming the place', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  await assert.rejects(dataInput(store, 'artifact://nope.jsonl'), {
    name: 'InputError',
    message: 'dataset: artifact://nope.jsonl does not exist in the artifact store',
  });
  const good = await dataInput(
    store,
    await put(root, 'a.jsonl', jsonl([{ id: 'a', q: 'x' }, '', { id: 'b', q: 'y' }])),
  );
  assert.match(good.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(
    (await readRecords(good, ['id', 'q'])).map((r) => r.id),
    ['a', 'b'],
  );
  await assert.rejects(readRecords(good, ['id', 'answer']), {
    message: 'artifact://a.jsonl:1: answer: must be a non-empty string',
  });
  const bad = await dataInput(store, await put(root, 'b.jsonl', '{"id":"a"}\n{oops\n'));
  await assert.rejects(readRecords(bad, ['id']), /artifact:\/\/b\.jsonl:2: not valid JSON/);
  const empty = await dataInput(store, await put(root, 'c.jsonl', '\n'));
  await assert.rejects(readRecords(empty, ['id'], { nonEmpty: true }), { message: 'artifact://c.jsonl: no records' });
});

test('the device record reader streams: bad bytes, an oversized line and deep nesting are refused naming the line', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const read = async (name: string, bytes: string | Uint8Array) =>
    readRecords(await dataInput(store, await put(root, name, bytes)), ['id']);
  // a BOM and CRLF are read as a text editor writes them
  assert.deepEqual(
    (await read('crlf.jsonl', '\uFEFF{"id":"a"}\r\n{"id":"b"}\r\n')).map((r) => r.id),
    ['a', 'b'],
  );
  const latin1 = Buffer.concat([Buffer.from('{"id":"a"}\n{"id":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
  await assert.rejects(read('latin1.jsonl', latin1), {
    name: 'InputError',
    message: /^artifact:\/\/latin1\.jsonl:2: encoding error: the line is not valid UTF-8 \(byte 11: e9 22 7d\)/,
  });
  // 9 MB on line 2, over the 8 MiB record limit: refused as it streams, never held whole
  const big = `{"id":"a"}\n{"id":"${'x'.repeat(9 * 1024 * 1024)}"}\n`;
  await assert.rejects(read('big.jsonl', big), {
    name: 'InputError',
    message: /^artifact:\/\/big\.jsonl:2: the line has 9,437,193 bytes; a record may have at most 8,388,608/,
  });
  const deep = `{"id":"a","x":${'['.repeat(70)}${']'.repeat(70)}}\n`;
  await assert.rejects(read('deep.jsonl', deep), {
    name: 'InputError',
    message: 'artifact://deep.jsonl:1: nested deeper than 64 levels',
  });
});

test('a model key is its content: a new manifest or another place leaves it, other weights change it', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const uri = await putTinyModel(root);
  const dir = store.resolve(uri);
  const key = await session.modelKey(store, { uri });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ createdAt: new Date().toISOString() }));
  assert.equal(await session.modelKey(store, { uri }), key, 'the manifest is not part of the key');
  cpSync(dir, join(root, 'models/copy'), { recursive: true });
  assert.equal(await session.modelKey(store, { uri: 'artifact://models/copy' }), key, 'nor is the place');
  const weights = readFileSync(join(root, 'models/copy/model.safetensors'));
  weights[weights.length - 1] ^= 1;
  writeFileSync(join(root, 'models/copy/model.safetensors'), weights);
  assert.notEqual(await session.modelKey(store, { uri: 'artifact://models/copy' }), key, 'the weights are');
});

test('microBatches cuts a batch into near-equal parts, in order', () => {
  assert.deepEqual(microBatches([1, 2, 3, 4, 5], 2), [
    [1, 2, 3],
    [4, 5],
  ]);
  assert.deepEqual(microBatches([1, 2, 3], 3), [[1], [2], [3]]);
  assert.throws(() => microBatches([1], 2), /cannot be cut/);
});
