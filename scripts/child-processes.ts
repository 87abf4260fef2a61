// Child processes of the scripts that run the project as a user meets it (scripts/consumer-test.ts,
// scripts/worker-refusal-time.ts): a command that is ready when its output says so, a polite stop, and
// a bare dev server (without the project's search attributes, on ports of its own).
import { spawn, type ChildProcess } from 'node:child_process';
import { resolveTemporalBinary } from '../temporal/binary';
import { freePort } from '../test/helpers/ports';

/** Runs until its output matches `ready` (then resolves with the child) or it exits (then rejects). */
export function startUntil(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  log: string[],
): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ${ready} within 600 s:\n${log.join('')}`));
    }, 600_000);
    const onData = (d: Buffer) => {
      log.push(d.toString());
      if (ready.test(log.join(''))) {
        clearTimeout(timer);
        resolvePromise(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${log.join('')}`));
    });
  });
}

/** SIGINT, then SIGKILL after 20 s; resolves when the child has exited. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** A dev server as a user starts one (no search attributes), its state under `cwd`, on free ports. */
export async function startBareDevServer(
  cwd: string,
  log: string[] = [],
): Promise<{ server: ChildProcess; port: number }> {
  const { binary } = await resolveTemporalBinary();
  const port = await freePort();
  const uiPort = await freePort();
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--headless',
  ];
  const server = await startUntil(binary, args, cwd, process.env, /Temporal Server:|Server:/, log);
  return { server, port };
}
