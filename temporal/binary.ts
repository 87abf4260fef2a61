// Finds the Temporal CLI (which carries the dev server): `temporal` on PATH, then the project's tools
// folder, then builds it there from its Go module when Go is installed.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from './settings';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const TOOLS_BIN = join(PROJECT_ROOT, '.tools', 'bin');

export class TemporalNotFoundError extends Error {
  constructor(detail: string) {
    super(
      `No Temporal dev server found: ${detail}.\n` +
        `Either point at a running server with TEMPORAL_ADDRESS=host:port, put a \`temporal\` binary on PATH, ` +
        `or install Go (https://go.dev/dl) so that it can be built into ${TOOLS_BIN} with ` +
        `\`GOBIN=${TOOLS_BIN} go install ${TEMPORAL_CLI_MODULE}\`.`,
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

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The path of a usable `temporal` binary, or undefined. */
export function findTemporalBinary(): string | undefined {
  return onPath('temporal') ?? (isExecutable(join(TOOLS_BIN, 'temporal')) ? join(TOOLS_BIN, 'temporal') : undefined);
}

/** Finds the binary or builds it with `go install` (a few minutes the first time); throws a clear error otherwise. */
export async function ensureTemporalBinary(
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<string> {
  const found = findTemporalBinary();
  if (found) return found;
  const go = onPath('go');
  if (!go) throw new TemporalNotFoundError('no `temporal` on PATH or in the tools folder, and no Go to build one');
  mkdirSync(TOOLS_BIN, { recursive: true });
  log(
    `Building the Temporal CLI into ${TOOLS_BIN} (go install ${TEMPORAL_CLI_MODULE}); the first build takes a few minutes...`,
  );
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], {
      env: { ...process.env, GOBIN: TOOLS_BIN, CGO_ENABLED: process.env.CGO_ENABLED ?? '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(new TemporalNotFoundError(`\`go install ${TEMPORAL_CLI_MODULE}\` exited with ${code}`)),
    );
  });
  const built = join(TOOLS_BIN, 'temporal');
  if (!existsSync(built)) throw new TemporalNotFoundError(`go install finished but ${built} is missing`);
  return built;
}

export function temporalVersion(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}
