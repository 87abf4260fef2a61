// Where things live and which server to talk to, from the environment (the same variable names as the
// Temporal CLI for the connection, so a user's existing setup carries over).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The nearest folder at or above `from` holding a package.json. */
export function packageRootOf(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The package's folder: the checkout, or node_modules/rewrite-rl (this file is in temporal/ or dist/temporal/). */
export const PROJECT_ROOT = packageRootOf(resolve(import.meta.dirname, '..'));
export { TASK_QUEUE } from '../workflows/task-queues';

export interface Settings {
  /** The data folder: the dev server's SQLite file, its log and pid file, the default artifact store. */
  home: string;
  artifactRoot: string;
  /** Set when the user points at a running server or cluster; then no dev server is started. */
  address?: string;
  namespace: string;
  apiKey?: string;
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverName?: string };
  port: number;
  uiPort: number;
  /** onnxruntime intra-op threads of a device worker (default: onnxruntime's choice, all cores). */
  threads?: number;
  /**
   * Whether a device worker's onnxruntime threads spin-wait between kernels (RunnerOptions.spinning;
   * REWRITE_RL_SPINNING=1 or 0; unset: on, workers/plugin.ts DEVICE_SPINNING).
   */
  spinning?: boolean;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const home = resolve(env.REWRITE_RL_HOME ?? '.rewrite-rl');
  const tlsWanted =
    env.TEMPORAL_TLS === 'true' ||
    env.TEMPORAL_TLS === '1' ||
    !!env.TEMPORAL_TLS_CLIENT_CERT_PATH ||
    !!env.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  return {
    home,
    artifactRoot: resolve(env.REWRITE_RL_ARTIFACTS ?? resolve(home, 'artifacts')),
    address: env.TEMPORAL_ADDRESS || undefined,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    apiKey: env.TEMPORAL_API_KEY || undefined,
    tls: tlsWanted
      ? {
          clientCertPath: env.TEMPORAL_TLS_CLIENT_CERT_PATH,
          clientKeyPath: env.TEMPORAL_TLS_CLIENT_KEY_PATH,
          serverCaCertPath: env.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
          serverName: env.TEMPORAL_TLS_SERVER_NAME,
        }
      : undefined,
    port: Number(env.REWRITE_RL_SERVER_PORT ?? 7233),
    uiPort: Number(env.REWRITE_RL_UI_PORT ?? 8233),
    threads: env.REWRITE_RL_THREADS ? Number(env.REWRITE_RL_THREADS) : undefined,
    spinning: flagOf(env, 'REWRITE_RL_SPINNING'),
  };
}

/** A boolean variable: 1/true or 0/false; unset or empty is undefined; anything else is an error naming it. */
function flagOf(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new Error(`${name}=${v}: expected 1 or 0 (true or false)`);
}

/** The address clients and workers use: the user's server, else the local dev server. */
export function addressOf(s: Settings): string {
  return s.address ?? `127.0.0.1:${s.port}`;
}
