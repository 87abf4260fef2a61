// The worker's connection from the settings: the local dev server, or the user's server or cluster
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*). temporal/connection.ts makes
// the client's from the same TLS options.
import { readFileSync } from 'node:fs';
import { NativeConnection, type TLSConfig } from '@temporalio/worker';
import { addressOf, type Settings } from './settings';

export function tlsOf(s: Settings): TLSConfig | undefined {
  if (!s.tls) return s.apiKey ? {} : undefined;
  const read = (p?: string) => (p ? readFileSync(p) : undefined);
  const cert = read(s.tls.clientCertPath);
  const key = read(s.tls.clientKeyPath);
  return {
    serverNameOverride: s.tls.serverName,
    serverRootCACertificate: read(s.tls.serverCaCertPath),
    clientCertPair: cert && key ? { crt: cert, key } : undefined,
  };
}

export class ServerUnreachableError extends Error {
  override name = 'ServerUnreachableError';
}

export async function connectWorker(s: Settings): Promise<NativeConnection> {
  const address = addressOf(s);
  try {
    return await NativeConnection.connect({ address, tls: tlsOf(s), apiKey: s.apiKey });
  } catch (err) {
    throw new ServerUnreachableError(`cannot reach a Temporal server at ${address} (${(err as Error).message})`);
  }
}
