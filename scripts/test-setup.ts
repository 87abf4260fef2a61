// Runs once before the test files: makes sure the Temporal CLI is there (fetched or built into .tools/bin
// if needed) and bundles the workflows once for the whole run, so each test file starts fast.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ensureTemporalBinary, temporalVersion } from '../temporal/binary';
import { PROJECT_ROOT } from '../workers/settings';
import { WORKFLOWS_PATH } from '../workers/plugin';

export const TEST_CACHE = join(PROJECT_ROOT, '.cache', 'test');

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };

export async function setupTests(): Promise<void> {
  const binary = await ensureTemporalBinary();
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  mkdirSync(TEST_CACHE, { recursive: true });
  const bundlePath = join(TEST_CACHE, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  writeFileSync(join(TEST_CACHE, 'env.json'), JSON.stringify({ temporalBinary: binary, bundlePath }, null, 2));
  console.log(`test setup: ${temporalVersion(binary)}; workflows bundled (${(code.length / 1e6).toFixed(2)} MB)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await setupTests();
