// The client's connection from the settings, with the same address and TLS options as the workers'.
import { Client, Connection } from '@temporalio/client';
import { RewriteRlPlugin } from '../workers/plugin';
import { ServerUnreachableError, tlsOf } from '../workers/connection';
import { addressOf, type Settings } from '../workers/settings';

export async function connectClient(s: Settings): Promise<Client> {
  const address = addressOf(s);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, tls: tlsOf(s), apiKey: s.apiKey, connectTimeout: 5000 });
  } catch (err) {
    throw new ServerUnreachableError(
      `cannot reach a Temporal server at ${address} (${(err as Error).message}); ` +
        (s.address ? 'check TEMPORAL_ADDRESS' : 'start one with `rewrite-rl server start`'),
    );
  }
  return new Client({ connection, namespace: s.namespace, plugins: [new RewriteRlPlugin({ activities: 'none' })] });
}
