import { createServer } from 'node:net';

// Below Linux's ephemeral range (32768-60999): the dev servers the tests start bind their internal
// services to ephemeral ports, so a port picked there could be taken between picking it and using it
// (it happened, to a server restarting on its port).
const LOW = 20_000;
const HIGH = 32_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago, outside the ephemeral range (tests never use the fixed 7233/8233). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOW} and ${HIGH}`);
}
