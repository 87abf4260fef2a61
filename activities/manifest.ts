// Every artifact folder carries manifest.json: what made it (package version, git commit when known),
// from what (config and its hash, seeds, input hashes) and what it holds (file hashes).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalJson, sha256, sha256File } from './artifact-store';

export interface Manifest {
  kind: string;
  producer: { package: string; version: string; gitCommit: string | null; node: string };
  createdAt: string;
  config: unknown;
  configHash: string;
  seeds: Record<string, number>;
  inputs: { uri: string; sha256: string }[];
  files: { path: string; sha256: string; bytes: number }[];
}

// the checkout, or the installed package (this file is in activities/ or dist/activities/)
let projectRoot = join(import.meta.dirname, '..');
while (!existsSync(join(projectRoot, 'package.json')) && dirname(projectRoot) !== projectRoot)
  projectRoot = dirname(projectRoot);

let producerCache: Manifest['producer'] | undefined;
export function producer(): Manifest['producer'] {
  if (producerCache) return producerCache;
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  let gitCommit: string | null = process.env.REWRITE_RL_GIT_COMMIT ?? null;
  if (!gitCommit) {
    try {
      gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      gitCommit = null;
    }
  }
  producerCache = { package: pkg.name, version: pkg.version, gitCommit, node: process.version };
  return producerCache;
}

export function configHash(config: unknown): string {
  return sha256(canonicalJson(config));
}

/** Hashes the listed files of `dir` and writes its manifest.json (call it last, inside the temporary folder). */
export async function writeManifest(
  dir: string,
  m: Omit<Manifest, 'producer' | 'createdAt' | 'configHash' | 'files'> & { files: string[] },
): Promise<Manifest> {
  const files = [];
  for (const path of m.files) {
    const abs = join(dir, path);
    files.push({ path, sha256: await sha256File(abs), bytes: (await stat(abs)).size });
  }
  const manifest: Manifest = {
    kind: m.kind,
    producer: producer(),
    createdAt: new Date().toISOString(),
    config: m.config,
    configHash: configHash(m.config),
    seeds: m.seeds,
    inputs: m.inputs,
    files,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
