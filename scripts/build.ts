// `npm run build` (run by `prepack`): the package's JavaScript and declarations in dist/, the same tree
// as the sources. tsc emits them; the sources import each other without extensions (resolved by tsx and
// bundlers), which Node's ESM loader and NodeNext consumers do not accept, so every relative specifier
// in the output is then written out in full (`./x` -> `./x.js` or `./x/index.js`). Files tsc does not
// emit (the generated CommonJS validators, the runner's worker entry, the shipped backbone that
// world/shipped.ts finds beside itself) are copied beside them.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PROJECT_ROOT } from '../workers/settings';

const DIST = join(PROJECT_ROOT, 'dist');
const COPIED = [
  'schemas/generated/validators.cjs',
  'schemas/generated/validators.d.cts',
  'schemas/generated/workflow-validators.cjs',
  'schemas/generated/workflow-validators.d.cts',
  'engine/runner/worker-entry.mjs',
  'world/shipped',
];

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** `./x` -> `./x.js` (or `./x/index.js`) when that file exists in dist; other specifiers unchanged. */
export function fullSpecifier(fromFile: string, spec: string): string {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return spec;
  if (/\.(c|m)?js$|\.json$/.test(spec)) return spec;
  const base = resolve(dirname(fromFile), spec);
  if (existsSync(base + '.js')) return spec + '.js';
  if (existsSync(join(base, 'index.js'))) return spec.replace(/\/$/, '') + '/index.js';
  throw new Error(`${relative(DIST, fromFile)}: cannot resolve ${spec} in dist`);
}

// import/export ... from '...', import('...'), import '...': the forms tsc emits
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\2/g;

export function rewriteSpecifiers(file: string, text: string): string {
  return text.replace(
    SPECIFIER,
    (_m, lead: string, q: string, spec: string) => lead + q + fullSpecifier(file, spec) + q,
  );
}

rmSync(DIST, { recursive: true, force: true });
const started = Date.now();
execFileSync(process.execPath, [join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: PROJECT_ROOT,
  stdio: 'inherit',
});
for (const f of COPIED) cpSync(join(PROJECT_ROOT, f), join(DIST, f), { recursive: true });
let files = 0;
let bytes = 0;
for (const file of walk(DIST)) {
  if (/\.(js|d\.ts)$/.test(file)) {
    const text = readFileSync(file, 'utf8');
    const out = rewriteSpecifiers(file, text);
    if (out !== text) writeFileSync(file, out);
  }
  files++;
  bytes += statSync(file).size;
}
console.log(`dist: ${files} files, ${(bytes / 1e6).toFixed(2)} MB, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
