// The package's entry point (`import ... from 'rewrite-rl'`): the plugin, the task queues and search
// attributes a user's workers and clients share, and the types of the workflows' inputs and outputs.
export { RewriteRlPlugin, type RewriteRlPluginOptions, WORKFLOWS_PATH } from './workers/plugin';
export { TASK_QUEUE, deviceTaskQueue } from './workflows/task-queues';
export { ALL_SEARCH_ATTRIBUTES } from './workflows/search-attributes';
export {
  ensureSearchAttributes,
  searchAttributeCommand,
  SearchAttributesMissingError,
} from './workers/search-attributes';
export type * from './schemas/generated/types';
export { ArtifactRootConflictError } from './workers/artifact-root';
// the outputs of the world's workflows are written in TypeScript (the others' come from their schemas)
export type { PretrainOutput } from './workflows/pretrain';
export type { WorldForgettingOutput } from './workflows/world-forgetting';
export type { RewriterProbeOutput, RewriterProbeRun } from './workflows/rewriter-probe';
