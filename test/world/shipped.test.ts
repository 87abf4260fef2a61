// The shipped backbone: installed into the store once, checked against its sha256s, only for the world
// it was trained on; a corrupted copy is refused.
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore, sha256File } from '../../activities/artifact-store';
import { installShippedBackbone } from '../../activities/world';
import { findShippedBackbone } from '../../world/shipped';
import { tempDir } from '../helpers/temporal';

test('the default seed-0 backbone ships with the key of its world and the sha256 of every file', async () => {
  const shipped = findShippedBackbone('default', 0);
  assert.ok(shipped);
  for (const [file, sha] of Object.entries(shipped.manifest.files))
    assert.equal(await sha256File(join(shipped.dir, file)), sha, file);
  assert.equal(findShippedBackbone('default', 1), undefined);
  assert.equal(findShippedBackbone('test', 0), undefined);
});

test('installed once for its world, refused for another world key', async () => {
  const store = new ArtifactStore(await tempDir());
  const key = findShippedBackbone('default', 0)!.manifest.worldKey;
  assert.equal(await installShippedBackbone(store, 'default', 0, 'another-key'), undefined);
  const a = await installShippedBackbone(store, 'default', 0, key);
  assert.ok(a);
  const dir = store.resolve(a.model.uri);
  assert.ok(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).hidden_size > 0);
  assert.equal(a.pretraining.steps, 2500);
  const b = await installShippedBackbone(store, 'default', 0, key);
  assert.deepEqual(b, a, 'the second call finds it in place');
});

test('a shipped file that does not match its sha256 is refused, and nothing is installed', async () => {
  const root = await tempDir();
  const fake = join(root, 'shipped');
  const real = findShippedBackbone('default', 0)!;
  await cp(real.dir, join(fake, 'default-seed0'), { recursive: true });
  await writeFile(join(fake, 'default-seed0', 'config.json'), '{}');
  const store = new ArtifactStore(join(root, 'store'));
  await assert.rejects(
    installShippedBackbone(store, 'default', 0, real.manifest.worldKey, fake),
    /config\.json: sha256 .* shipped\.json says/,
  );
});
