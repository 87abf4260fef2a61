// The artifact store: a folder (a shared filesystem path when workers run on several machines) where
// every stage writes its outputs. Paths that come from configs are confined to it; writes are atomic
// (a temporary name, then rename), so a reader sees a complete artifact or none.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, realpathSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export const ARTIFACT_SCHEME = 'artifact://';

export class PathEscapeError extends Error {
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`path "${ref}" is rejected: ${reason}; paths in configs must stay inside the artifact store`);
    this.name = 'PathEscapeError';
  }
}

export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The absolute path of a reference ('artifact://a/b' or 'a/b'), rejecting any that leaves the root. */
  resolve(ref: string): string {
    const rel = ref.startsWith(ARTIFACT_SCHEME) ? ref.slice(ARTIFACT_SCHEME.length) : ref;
    if (rel.includes('\0')) throw new PathEscapeError(ref, 'it contains a NUL byte');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rel)) throw new PathEscapeError(ref, 'only artifact:// references are allowed');
    if (isAbsolute(rel) || /^[A-Za-z]:[\\/]/.test(rel)) throw new PathEscapeError(ref, 'it is an absolute path');
    const abs = resolve(this.root, rel);
    if (abs !== this.root && !abs.startsWith(this.root + sep)) throw new PathEscapeError(ref, 'it leaves the root');
    // A symbolic link inside the store must not lead out of it either.
    const real = realExistingPrefix(abs);
    const realRoot = existsSync(this.root) ? realpathSync(this.root) : this.root;
    if (real !== realRoot && !real.startsWith(realRoot + sep)) {
      throw new PathEscapeError(ref, 'it follows a symbolic link out of the root');
    }
    return abs;
  }

  /** The reference of an absolute path inside the store. */
  ref(absPath: string): string {
    const rel = relative(this.root, absPath);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new PathEscapeError(absPath, 'it leaves the root');
    return ARTIFACT_SCHEME + rel.split(sep).join('/');
  }

  exists(ref: string): boolean {
    return existsSync(this.resolve(ref));
  }

  /**
   * Creates the folder `ref` atomically: `fill` writes into a fresh temporary folder beside it, which is
   * renamed into place when `fill` returns. If the folder already exists (a complete earlier output, or
   * a concurrent attempt that won), nothing is written and `reused` is true. On error the temporary
   * folder is removed and nothing already written is touched.
   */
  async writeDir(ref: string, fill: (tmpDir: string) => Promise<void>): Promise<{ path: string; reused: boolean }> {
    const path = this.resolve(ref);
    if (existsSync(path)) return { path, reused: true };
    const tmp = tempSibling(path);
    await mkdir(tmp, { recursive: true });
    try {
      await fill(tmp);
      if (existsSync(path)) {
        await rm(tmp, { recursive: true, force: true });
        return { path, reused: true };
      }
      await rename(tmp, path);
      return { path, reused: false };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Writes one file atomically (temporary name, then rename), replacing nothing that exists unless `overwrite`. */
  async writeFile(ref: string, data: string | Uint8Array, opts: { overwrite?: boolean } = {}): Promise<string> {
    const path = this.resolve(ref);
    if (!opts.overwrite && existsSync(path)) throw new Error(`${ref} already exists; artifacts are never overwritten`);
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempSibling(path);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return path;
  }
}

function tempSibling(path: string): string {
  const parent = dirname(path);
  const base = path.slice(parent.length + 1);
  return join(parent, `.tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function realExistingPrefix(abs: string): string {
  let p = abs;
  const rest: string[] = [];
  while (!existsSync(p)) {
    const parent = dirname(p);
    if (parent === p) return abs;
    rest.unshift(p.slice(parent.length + 1));
    p = parent;
  }
  return join(realpathSync(p), ...rest);
}

/** SHA-256 of a file, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with sorted object keys, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
