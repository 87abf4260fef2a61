import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore, PathEscapeError, canonicalJson } from '../activities/artifact-store';
import { producer, writeManifest } from '../activities/manifest';
import { tempDir } from './helpers/temporal';

test('references resolve inside the root; paths that escape it are rejected', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  assert.equal(store.resolve('artifact://datasets/a/train.jsonl'), join(root, 'datasets/a/train.jsonl'));
  assert.equal(store.resolve('inputs/x.jsonl'), join(root, 'inputs/x.jsonl'));
  assert.equal(store.resolve('a/../b'), join(root, 'b'));
  for (const bad of [
    '../outside.jsonl',
    'artifact://../../etc/passwd',
    '/etc/passwd',
    'a/../../x',
    'file:///etc/passwd',
    'x\0y',
  ]) {
    assert.throws(() => store.resolve(bad), PathEscapeError, bad);
  }
  const outside = await tempDir();
  symlinkSync(outside, join(root, 'link'));
  assert.throws(() => store.resolve('link/secret.txt'), /symbolic link/);
  assert.equal(store.ref(join(root, 'datasets', 'x')), 'artifact://datasets/x');
});

test('writeDir is atomic: a failure leaves nothing, an existing folder is reused untouched', async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  await assert.rejects(
    store.writeDir('out/a', async (dir) => {
      writeFileSync(join(dir, 'half.txt'), 'partial');
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(existsSync(join(root, 'out/a')), false);
  assert.deepEqual(readdirSync(join(root, 'out')), [], 'no temporary folder is left behind');
  const first = await store.writeDir('out/a', async (dir) => writeFileSync(join(dir, 'f.txt'), 'one'));
  assert.equal(first.reused, false);
  const second = await store.writeDir('out/a', async (dir) => writeFileSync(join(dir, 'f.txt'), 'two'));
  assert.equal(second.reused, true);
  assert.equal(readFileSync(join(root, 'out/a/f.txt'), 'utf8'), 'one');
  await store.writeFile('out/b.txt', 'x');
  await assert.rejects(store.writeFile('out/b.txt', 'y'), /never overwritten/);
  assert.equal(readFileSync(join(root, 'out/b.txt'), 'utf8'), 'x');
});

test('manifests record the producer, config hash, seeds, inputs and file hashes', async () => {
  const dir = await tempDir();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'a.txt'), 'hello');
  const m = await writeManifest(dir, {
    kind: 'test',
    config: { b: 1, a: [1, 2] },
    seeds: { split: 3 },
    inputs: [{ uri: 'artifact://x', sha256: '0'.repeat(64) }],
    files: ['sub/a.txt'],
  });
  assert.equal(m.producer.package, 'rewrite-rl');
  assert.equal(m.producer, producer());
  assert.equal(m.files[0].sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  assert.equal(m.files[0].bytes, 5);
  assert.equal(canonicalJson({ b: 1, a: [1, 2] }), '{"a":[1,2],"b":1}');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).seeds, { split: 3 });
});
