/** The workflow types the plugin's workers run (each exported by workflows/index.ts under this name). */
export const WORKFLOW_TYPES = [
  'importDataset',
  'evaluate',
  'sft',
  'pretrain',
  'worldForgetting',
  'rewriterProbe',
  'trainRewriter',
  'pipeline',
] as const;

export type WorkflowType = (typeof WORKFLOW_TYPES)[number];
