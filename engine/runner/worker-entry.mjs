// Worker-thread entry: registers tsx so the TypeScript worker can be imported, then starts it.
// (A worker inherits `--import tsx` from its parent's execArgv, but on Node 20 those hooks do not
// resolve the worker's own .ts imports, so we always register here.)
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
