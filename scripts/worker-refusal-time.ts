// How long a user waits to be told what to do when their worker meets a server without the project's
// search attributes and may not register them (`searchAttributes: 'check'`, as on a cluster without
// operator rights): a plain dev server, then the README's worker in a process of its own, timed from its
// start to its exit, with the time inside worker.run() (the check itself) apart from the start-up
// (connecting and bundling the workflows) before it.
//
//   npx tsx scripts/worker-refusal-time.ts
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareDevServer, stop } from './child-processes';
import { PROJECT_ROOT } from '../workers/settings';

const work = mkdtempSync(join(tmpdir(), 'rewrite-rl-refusal-'));
const { server, port } = await startBareDevServer(work);

// the README's worker (one process, the workflow worker), with the check instead of the registration
const worker = `
import { NativeConnection, Worker } from '@temporalio/worker';
import { RewriteRlPlugin } from '${join(PROJECT_ROOT, 'workers/plugin.ts')}';
const connection = await NativeConnection.connect({ address: '127.0.0.1:${port}' });
const w = await Worker.create({ connection, taskQueue: 'rewrite-rl',
  plugins: [new RewriteRlPlugin({ artifactRoot: '${join(work, 'artifacts')}', searchAttributes: 'check' })] });
const t0 = Date.now();
await w.run().then(() => console.log('RAN'), (e) => console.log('run() failed after ' + (Date.now() - t0) + ' ms: ' + e.message));
await connection.close();
`;
// in the checkout (gitignored .cache/), so that it finds the SDK the way a user's worker does
mkdirSync(join(PROJECT_ROOT, '.cache'), { recursive: true });
const script = join(PROJECT_ROOT, '.cache', `refusal-worker-${process.pid}.ts`);
writeFileSync(script, worker);
const started = Date.now();
const child = spawn(process.execPath, ['--import', 'tsx', script], {
  cwd: PROJECT_ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout!.on('data', (d: Buffer) => (out += d));
await new Promise((r) => child.on('exit', r));
const seconds = (Date.now() - started) / 1000;
await stop(server);
rmSync(work, { recursive: true, force: true });
rmSync(script, { force: true });
console.log(out.trim());
console.log(
  `a checking worker on a server without the search attributes: told what to do ${seconds.toFixed(1)} s after its process started`,
);
process.exit(/run\(\) failed after .*temporal operator search-attribute create/s.test(out) ? 0 : 1);
