// `npm test`: the one-time setup (Temporal CLI, workflow bundle), then every test/**/*.test.ts through
// node's test runner (Node 20 does not expand globs itself), ending with a plain summary line.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../workers/settings';
import { setupTests, TEST_CACHE } from './test-setup';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

await setupTests();
const only = process.argv.slice(2);
const files =
  only.length > 0
    ? only
    : testFiles(join(PROJECT_ROOT, 'test'))
        .map((f) => relative(PROJECT_ROOT, f))
        .sort();
const tap = join(TEST_CACHE, 'results.tap');
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { cwd: PROJECT_ROOT, stdio: 'inherit' },
);
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
const summary = readFileSync(tap, 'utf8');
const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
console.log(
  `\n${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped') + count('todo')} skipped`,
);
process.exit(code);
