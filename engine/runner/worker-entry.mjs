// Worker-thread entry. In a checkout it registers tsx so the TypeScript worker can be imported (a worker
// inherits `--import tsx` from its parent's execArgv, but on Node 20 those hooks do not resolve the
// worker's own .ts imports, so we always register here); the package's dist/ holds compiled worker.js.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const source = new URL('./worker.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('./worker.js');
}
