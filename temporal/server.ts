// Starts, finds and stops the local Temporal dev server: the `temporal` CLI with a SQLite file in the
// data folder (runs survive a restart), the UI on its port and the project's search attributes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { ensureTemporalBinary } from './binary';
import { ensureSearchAttributes } from '../workers/search-attributes';
import type { Settings } from '../workers/settings';

export interface ServerInfo {
  pid: number;
  port: number;
  uiPort: number;
  dbFile: string;
  logFile: string;
  binary: string;
}

const infoFile = (s: Settings) => join(s.home, 'server.json');

function typeName(t: string): string {
  // the CLI spells types as Keyword, Int, Double, ...
  return t === 'KEYWORD_LIST' ? 'KeywordList' : t.charAt(0) + t.slice(1).toLowerCase();
}

export function devServerArgs(o: { port: number; uiPort: number; dbFile: string; ip?: string }): string[] {
  // loopback unless told otherwise: the dev server has no authentication (gRPC, HTTP API, metrics and UI
  // all bind to --ip; the UI is named too so a CLI default can never widen it)
  const ip = o.ip ?? '127.0.0.1';
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--ui-ip',
    ip,
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
  ];
  args.push('--db-filename', o.dbFile, '--log-level', 'warn');
  for (const key of ALL_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${typeName(key.type)}`);
  return args;
}

/** True when something accepts TCP connections on the port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function isTemporal(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readServerInfo(s: Settings): ServerInfo | undefined {
  if (!existsSync(infoFile(s))) return undefined;
  const info = JSON.parse(readFileSync(infoFile(s), 'utf8')) as ServerInfo;
  return alive(info.pid) ? info : undefined;
}

export interface StartResult {
  address: string;
  uiUrl: string;
  reused: boolean;
  info?: ServerInfo;
}

/**
 * Starts the dev server in the background (it outlives this process; `stopDevServer` ends it), or reuses
 * the one already answering on the port. Returns once it accepts requests.
 */
export async function startDevServer(s: Settings, log: (line: string) => void = () => {}): Promise<StartResult> {
  const address = `127.0.0.1:${s.port}`;
  const uiUrl = `http://localhost:${s.uiPort}`;
  if (await portOpen(s.port)) {
    if (!(await isTemporal(address)))
      throw new Error(`port ${s.port} is in use by something that is not a Temporal server`);
    const connection = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(connection, s.namespace);
    } finally {
      await connection.close();
    }
    return { address, uiUrl, reused: true, info: readServerInfo(s) };
  }
  const binary = await ensureTemporalBinary(log);
  mkdirSync(s.home, { recursive: true });
  const dbFile = join(s.home, 'temporal.sqlite');
  const logFile = join(s.home, 'server.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(binary, devServerArgs({ port: s.port, uiPort: s.uiPort, dbFile }), {
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.unref();
  const info: ServerInfo = { pid: child.pid!, port: s.port, uiPort: s.uiPort, dbFile, logFile, binary };
  writeFileSync(infoFile(s), JSON.stringify(info, null, 2) + '\n');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const early = await Promise.race([exited, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 250))]);
    if (early !== 'waiting') {
      rmSync(infoFile(s), { force: true });
      throw new Error(`the dev server exited with code ${early} while starting; see ${logFile}`);
    }
    if ((await portOpen(s.port)) && (await isTemporal(address))) return { address, uiUrl, reused: false, info };
  }
  throw new Error(`the dev server did not answer on ${address} within 60 s; see ${logFile}`);
}

/** Stops the dev server this project started (SIGTERM, then SIGKILL after 15 s). False when none was running. */
export async function stopDevServer(s: Settings): Promise<boolean> {
  const info = readServerInfo(s);
  if (!info) {
    rmSync(infoFile(s), { force: true });
    return false;
  }
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(info.pid)) process.kill(info.pid, 'SIGKILL');
  while (alive(info.pid)) await new Promise((r) => setTimeout(r, 50));
  rmSync(infoFile(s), { force: true });
  return true;
}

export async function serverStatus(
  s: Settings,
): Promise<{ address: string; reachable: boolean; managed: boolean; info?: ServerInfo }> {
  const address = s.address ?? `127.0.0.1:${s.port}`;
  const info = s.address ? undefined : readServerInfo(s);
  return { address, reachable: await isTemporal(address), managed: !!info, info };
}

export { ALL_SEARCH_ATTRIBUTES };
