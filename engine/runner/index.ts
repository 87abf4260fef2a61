export { Runner, type RunnerOptions, type RunOptions } from './runner';
export type { RunResult, LoadResult } from './protocol';
export {
  createSession,
  runSession,
  toOrt,
  fromOrt,
  executionProviders,
  parseDevice,
  type SessionOptions,
} from './session';
