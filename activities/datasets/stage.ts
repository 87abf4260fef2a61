// Copies a user's local file into the artifact store so a workflow can name it. The folder is named by
// the hash of the bytes copied and the file keeps its name, so the same content staged under two names
// gives two files (each import names its own source), and staging the same file again reuses it.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { type ArtifactStore, sha256File } from '../artifact-store';
import { InputError } from '../errors';

/** Stages `file` (a local path) and returns its reference, `artifact://inputs/<hash>/<name>`. */
export async function stageFile(store: ArtifactStore, file: string): Promise<string> {
  const name = basename(file);
  const inputs = store.resolve('inputs');
  await mkdir(inputs, { recursive: true });
  // copy first and hash the copy: the reference names exactly the bytes stored, even if the file changes
  const tmp = join(inputs, `.tmp-stage-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await copyFile(file, tmp);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const ref = `inputs/${(await sha256File(tmp)).slice(0, 16)}/${name}`;
    const path = store.resolve(ref);
    if (existsSync(path)) {
      await rm(tmp, { force: true });
    } else {
      await mkdir(join(path, '..'), { recursive: true });
      await rename(tmp, path);
    }
    return `artifact://${ref}`;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
