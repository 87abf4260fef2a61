// The package as a user meets it (run by .ci/run after npm test, not by npm test: it packs, installs and
// runs the main job, a few minutes): `npm pack`, then a fresh project in a temporary folder installs the tarball (a
// copy, no symlink) with the README's install command, runs the README's worker and client snippets in
// plain JavaScript, type-checks them as TypeScript under NodeNext and runs them again through tsx, on a
// dev server started without the project's search attributes (the worker registers them).
//
//   npx tsx scripts/consumer-test.ts [--keep]
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareDevServer, startUntil, stop } from './child-processes';
import { PROJECT_ROOT } from '../workers/settings';

const keep = process.argv.includes('--keep');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const say = (line: string) => console.log(`consumer test [${elapsed()}]: ${line}`);
const results: { name: string; ok: boolean; detail?: string }[] = [];

/** The README's fenced blocks of a language, in order, exactly as written. */
function readmeBlocks(lang: string): string[] {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Using the plugin in your own worker'),
    readme.indexOf('## Pointing at a real server or cluster'),
  );
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function check(name: string, fn: () => void | Promise<void>) {
  return Promise.resolve()
    .then(fn)
    .then(
      () => {
        results.push({ name, ok: true });
        say(`ok: ${name}`);
      },
      (e: Error) => {
        results.push({ name, ok: false, detail: e.message });
        say(`FAILED: ${name}: ${e.message}`);
      },
    );
}

const work = mkdtempSync(join(tmpdir(), 'rewrite-rl-consumer-'));
const app = join(work, 'app');
mkdirSync(app);
let server: ChildProcess | undefined;
let worker: ChildProcess | undefined;
try {
  // the tarball, as `npm publish` would make it (prepack builds dist/)
  const packed = JSON.parse(
    sh('npm', ['pack', '--json', '--pack-destination', work], PROJECT_ROOT).replace(/^[^[]*/, ''),
  )[0] as { filename: string; size: number; unpackedSize: number; entryCount: number };
  say(
    `packed ${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1e6).toFixed(2)} MB ` +
      `(${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked)`,
  );
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8'));
  const version = (name: string) => lock.packages[`node_modules/${name}`].version as string;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2) + '\n',
  );
  // the README's install command, with the tarball for the registry name and the SDK at the tested version
  const install = readmeBlocks('sh')[0].trim();
  if (!install.startsWith('ONNXRUNTIME_NODE_INSTALL=skip npm install rewrite-rl @temporalio/worker @temporalio/client'))
    throw new Error(`the README's install command changed: ${install}`);
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  delete env.npm_config_onnxruntime_node_install; // the checkout's .npmrc must not be what makes it work
  await check('npm install of the tarball (no symlink), the SDK and TypeScript', () => {
    sh(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(work, packed.filename),
        `@temporalio/worker@${version('@temporalio/worker')}`,
        `@temporalio/client@${version('@temporalio/client')}`,
        `typescript@${version('typescript')}`,
        `@types/node@${version('@types/node')}`,
        `tsx@${version('tsx')}`,
      ],
      app,
      env,
    );
    execFileSync('test', ['!', '-L', join(app, 'node_modules', 'rewrite-rl')]);
  });

  const [workerCode, clientCode] = readmeBlocks('js');
  for (const ext of ['mjs', 'ts']) {
    writeFileSync(join(app, `worker.${ext}`), workerCode);
    writeFileSync(join(app, `client.${ext}`), clientCode);
  }
  // the package's own types are real, not `any` (skipLibCheck would hide an unresolved import in them)
  writeFileSync(
    join(app, 'types.ts'),
    [
      "import { RewriteRlPlugin } from 'rewrite-rl/workers/plugin';",
      "import { TASK_QUEUE, deviceTaskQueue, type ImportDatasetInputInput, type WorldForgettingOutput } from 'rewrite-rl';",
      "const queue: 'rewrite-rl' = TASK_QUEUE;",
      "const device: string = deviceTaskQueue('cpu');",
      "const root: string = new RewriteRlPlugin({ activities: 'none', searchAttributes: 'check' }).artifactRoot;",
      '// @ts-expect-error not a kind of worker',
      "new RewriteRlPlugin({ activities: 'gpu' });",
      "const input: ImportDatasetInputInput = { source: 'artifact://inputs/x.jsonl' };",
      '// @ts-expect-error the source is required',
      "const bad: ImportDatasetInputInput = { name: 'x' };",
      'declare const out: WorldForgettingOutput;',
      'const markdown: string = out.report.markdown;',
      '// @ts-expect-error no such field',
      'out.noSuchField;',
      'export { queue, device, root, input, bad, markdown };',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          // the SDK's own declarations need @types/ms under a full lib check; ours are checked by types.ts
          skipLibCheck: true,
        },
        files: ['worker.ts', 'client.ts', 'types.ts'],
      },
      null,
      2,
    ),
  );
  await check('tsc --noEmit under NodeNext on the README snippets as worker.ts and client.ts, and the types', () => {
    try {
      sh(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    } catch (e) {
      throw new Error(`${(e as { stdout?: string }).stdout ?? ''}${(e as Error).message}`);
    }
  });

  // a dev server without the project's search attributes, on its own ports
  const dev = await startBareDevServer(work);
  server = dev.server;
  const port = dev.port;
  const runEnv = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, REWRITE_RL_ARTIFACTS: undefined };
  // the README's copy step, from the installed package
  mkdirSync(join(app, 'artifacts', 'inputs', 'sample'), { recursive: true });
  copyFileSync(
    join(app, 'node_modules/rewrite-rl/world/sample/downstream.jsonl'),
    join(app, 'artifacts/inputs/sample/downstream.jsonl'),
  );

  for (const [label, runner] of [
    ['plain JavaScript (node worker.mjs)', [process.execPath]],
    ['TypeScript (tsx worker.ts)', [process.execPath, '--import', 'tsx']],
  ] as const) {
    const ext = label.startsWith('plain') ? 'mjs' : 'ts';
    await check(
      `${label}: the worker starts and the client runs importDataset and worldForgetting (test recipe)`,
      async () => {
        const log: string[] = [];
        worker = await startUntil(
          runner[0],
          [...runner.slice(1), `worker.${ext}`],
          app,
          runEnv,
          /artifact root .*rewrite-rl-device-cpu|rewrite-rl-device-cpu.*artifact root/s,
          log,
        );
        try {
          const out = execFileSync(runner[0], [...runner.slice(1), `client.${ext}`], {
            cwd: app,
            env: runEnv,
            encoding: 'utf8',
            timeout: 1_800_000, // about a minute on an idle machine
          });
          say(`the client printed:\n${out.trim()}`);
          if (!/artifact:\/\/datasets\/sample-/.test(out))
            throw new Error(`importDataset's result is missing:\n${out}`);
          if (!/forgetting/i.test(out)) throw new Error(`the forgetting report is missing:\n${out}`);
        } catch (e) {
          throw new Error(`${(e as Error).message}\nthe worker's last output:\n${log.join('').slice(-3000)}`);
        } finally {
          await stop(worker);
        }
      },
    );
  }
} catch (e) {
  results.push({ name: 'setup', ok: false, detail: (e as Error).stack });
  say(`FAILED: ${(e as Error).stack}`);
} finally {
  await stop(worker);
  await stop(server);
  if (!keep) rmSync(work, { recursive: true, force: true });
  else say(`kept ${work}`);
}
const failed = results.filter((r) => !r.ok).length;
console.log(`consumer test: ${elapsed()}`);
console.log(`consumer: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
