// `npm run bench [-- name ...]`: runs the benchmarks (every bench/*.ts with a main, or those whose
// file name contains one of the given names), one after another, each in its own process. Benchmarks
// print ratios measured in one run; they are never part of `npm test`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
// Modules the benchmarks import, not benchmarks themselves.
const helpers = new Set(['run.ts', 'engine-model-common.ts', 'profile-runner.ts', 'world-batches.ts']);
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !helpers.has(f))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (benches.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}; have: ${readdirSync(dir).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const b of benches) {
  console.log(`\n=== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
