// Every workflow the plugin registers. Workflows are deterministic orchestration only.
export { importDataset } from './import-dataset';
export { evaluate } from './evaluate';
export { sft } from './sft';
export { pretrain } from './pretrain';
export { worldForgetting } from './world-forgetting';
export { rewriterProbe } from './rewriter-probe';
export { trainRewriter } from './train-rewriter';
export { pipeline } from './pipeline';

// Runs for a workflow type no export here has: fails the run at once instead of leaving it Running.
export { unknownWorkflowType as default } from './unknown';
